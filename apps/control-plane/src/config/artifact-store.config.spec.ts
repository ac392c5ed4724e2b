import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './config.js';

const s3 = { ARTIFACT_STORE: 's3', S3_BUCKET: 'edgefleet-artifacts' };

describe('artifact store settings', () => {
  it('keeps artifacts on local disk unless told otherwise', () => {
    expect(loadConfig({}).artifacts.store).toEqual({ driver: 'fs' });
  });

  it('reads the s3 settings: prefix made a folder, sizes in bytes, credentials only when given', () => {
    const store = loadConfig({ ...s3, S3_PREFIX: 'prod/edgefleet', S3_ENDPOINT: 'https://acc.r2.cloudflarestorage.com', S3_REGION: 'auto', S3_READ_CACHE_MB: '16' }).artifacts.store;
    expect(store).toEqual({
      driver: 's3',
      bucket: 'edgefleet-artifacts',
      prefix: 'prod/edgefleet/',
      endpoint: 'https://acc.r2.cloudflarestorage.com',
      region: 'auto',
      forcePathStyle: false,
      credentials: undefined,
      partSizeBytes: 8 * 1024 * 1024,
      readCacheBytes: 16 * 1024 * 1024,
    });
    const minio = loadConfig({ ...s3, S3_FORCE_PATH_STYLE: 'true', S3_ACCESS_KEY_ID: 'minio', S3_SECRET_ACCESS_KEY: 'minio123' }).artifacts.store;
    expect(minio).toMatchObject({ forcePathStyle: true, prefix: '', credentials: { accessKeyId: 'minio', secretAccessKey: 'minio123' } });
  });

  it.each([
    [{ ARTIFACT_STORE: 's3' }, 'S3_BUCKET: required when ARTIFACT_STORE=s3'],
    [{ ARTIFACT_STORE: 'gcs' }, 'ARTIFACT_STORE'],
    [{ S3_BUCKET: 'edgefleet-artifacts' }, 'ARTIFACT_STORE: is fs (the default) but S3_BUCKET is set'],
    [{ ...s3, S3_BUCKET: 'Bad_Bucket' }, 'S3_BUCKET: 3-63 lowercase'],
    [{ ...s3, S3_ACCESS_KEY_ID: 'only-the-id' }, 'S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both'],
    [{ ...s3, S3_ENDPOINT: 'ftp://minio:9000' }, 'S3_ENDPOINT: must be an http:// or https:// URL'],
    [{ ...s3, S3_PREFIX: '/leading' }, 'S3_PREFIX'],
    [{ ...s3, S3_PREFIX: 'a/../b' }, 'S3_PREFIX: no .. segments'],
    [{ ...s3, S3_PART_SIZE_MB: '4' }, 'S3_PART_SIZE_MB'],
    [{ ...s3, ARTIFACT_MAX_BYTES: String(6 * 1024 ** 3) }, 'ARTIFACT_MAX_BYTES: at most 5368709120'],
  ])('refuses %j, naming the variable', (env, expected) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(expected);
  });
});
