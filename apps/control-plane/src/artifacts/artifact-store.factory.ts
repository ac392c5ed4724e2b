import { S3Client } from '@aws-sdk/client-s3';
import type { AppConfig } from '../config/config.js';
import type { ArtifactStore } from './artifact-store.js';
import { BlockCache } from './block-cache.js';
import { FsArtifactStore } from './fs-artifact-store.js';
import { S3ArtifactStore } from './s3-artifact-store.js';

/** Blocks of ranged chunk reads: 8 chunks of the default 128 KiB per GET. */
export const S3_READ_BLOCK_BYTES = 1024 * 1024;

/** The store the configuration names. */
export function createArtifactStore(config: AppConfig['artifacts']): ArtifactStore {
  const store = config.store;
  if (store.driver === 'fs') return new FsArtifactStore(config.dir);
  const client = new S3Client({
    region: store.region,
    endpoint: store.endpoint,
    forcePathStyle: store.forcePathStyle,
    credentials: store.credentials,
    maxAttempts: 3,
    // Checksums only where S3 requires them: several S3-compatible stores refuse the SDK's default
    // CRC32 trailers. The bytes are still checked end to end: every node verifies the artifact's SHA-256.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return new S3ArtifactStore({
    client,
    bucket: store.bucket,
    prefix: store.prefix,
    partSizeBytes: store.partSizeBytes,
    cache: new BlockCache(S3_READ_BLOCK_BYTES, store.readCacheBytes),
    localDir: config.dir,
  });
}
