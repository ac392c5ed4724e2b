import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The parts of s3rver 3.7 (CommonJS, no types) that the tests use: a Koa app with a filesystem store. */
interface S3rverServer {
  middleware: ((ctx: S3rverContext, next: () => Promise<void>) => Promise<void>)[];
  store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
interface S3rverContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverServer;

export interface TestS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly client: S3Client;
  /** Settings for `startTestApp`: the control plane on this bucket, under `prefix`. */
  env(prefix?: string): Record<string, string>;
  /** Object keys under `prefix` (the whole bucket by default). */
  keys(prefix?: string): Promise<string[]>;
  /** Multipart uploads begun and neither completed nor aborted. */
  pendingMultipartUploads(): Promise<string[]>;
  stop(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * A local S3-compatible server (s3rver) on 127.0.0.1 and a random port, with one bucket, its data in a
 * fresh temporary directory. s3rver does not implement AbortMultipartUpload (it answers 405), so this
 * adds it as S3 defines it: the upload's parts are dropped. Without that no client could ever clean up a
 * cut upload here, and `pendingMultipartUploads` (s3rver keeps each upload's parts in a directory) shows
 * whether the store under test did.
 */
export async function startTestS3(bucket = 'edgefleet-test'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'ef-s3rver-'));
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const uploadsDir = server.store.getResourcePath(bucket, undefined, 'uploads');
  server.middleware.unshift(async (ctx, next) => {
    const uploadId = ctx.query['uploadId'];
    if (ctx.method !== 'DELETE' || typeof uploadId !== 'string' || !ctx.path.startsWith(`/${bucket}/`)) return next();
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(uploadId)) {
      ctx.status = 400;
      return;
    }
    await rm(join(uploadsDir, uploadId), { recursive: true, force: true });
    ctx.status = 204;
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
  return {
    endpoint,
    bucket,
    client,
    env: (prefix = '') => ({
      ARTIFACT_STORE: 's3',
      S3_BUCKET: bucket,
      S3_PREFIX: prefix,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    }),
    keys: async (prefix = '') => {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (listed.Contents ?? []).map((o) => o.Key ?? '').sort();
    },
    pendingMultipartUploads: () => readdir(uploadsDir).catch(() => [] as string[]),
    stop: async () => {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
