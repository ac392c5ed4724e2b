import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PayloadTooLargeError } from '#common';
import { type ArtifactStore, ArtifactStoreUnavailableError } from '../../apps/control-plane/src/artifacts/artifact-store.js';
import { BlockCache } from '../../apps/control-plane/src/artifacts/block-cache.js';
import { FsArtifactStore } from '../../apps/control-plane/src/artifacts/fs-artifact-store.js';
import { S3ArtifactStore } from '../../apps/control-plane/src/artifacts/s3-artifact-store.js';
import { waitFor } from '../helpers/agent-process.js';
import { startTestS3, type TestS3 } from '../helpers/test-s3.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const files = (dir: string) => readdir(dir).catch(() => [] as string[]);

/** One store under test, with what it left where nobody should find anything after a failure. */
interface Harness {
  readonly store: ArtifactStore;
  /** Staged blobs, local temporary copies and unfinished multipart uploads. */
  leftovers(): Promise<string[]>;
  /** How many blobs are committed. */
  stored(): Promise<number>;
  /** Whether the upload in progress has reached the store (a staged file, a multipart upload begun). */
  uploadBegun(): Promise<boolean>;
  close(): Promise<void>;
}

let s3: TestS3;
const s3Client = () => new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });

async function fsHarness(): Promise<Harness> {
  const root = await mkdtemp(join(tmpdir(), 'ef-store-fs-'));
  const stored = async () => {
    const dirs = await files(join(root, 'sha256'));
    return (await Promise.all(dirs.map((d) => files(join(root, 'sha256', d))))).flat().length;
  };
  return {
    store: new FsArtifactStore(root),
    leftovers: () => files(join(root, 'tmp')),
    stored,
    uploadBegun: async () => (await files(join(root, 'tmp'))).length > 0,
    close: () => rm(root, { recursive: true, force: true }),
  };
}

/** Each harness on its own prefix of the one bucket; the cache is kept to count its GETs. */
async function s3Harness(cache = new BlockCache(MiB, 8 * MiB)): Promise<Harness & { cache: BlockCache }> {
  const prefix = `run-${randomBytes(4).toString('hex')}/`;
  const localDir = await mkdtemp(join(tmpdir(), 'ef-store-s3-'));
  const store = new S3ArtifactStore({ client: s3Client(), bucket: s3.bucket, prefix, partSizeBytes: PART, cache, localDir });
  return {
    store,
    cache,
    leftovers: async () => [...(await s3.keys(`${prefix}tmp/`)), ...(await s3.pendingMultipartUploads()), ...(await files(join(localDir, 'tmp')))],
    stored: async () => (await s3.keys(`${prefix}sha256/`)).length,
    uploadBegun: async () => (await s3.pendingMultipartUploads()).length > 0,
    close: async () => {
      await store.close();
      await rm(localDir, { recursive: true, force: true });
    },
  };
}

const chunked = (bytes: Buffer, size = 64 * 1024) =>
  Readable.from(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)));

const readStream = async (stream: Readable) => {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
};

beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(() => s3.stop());

/** The same behaviour from both drivers: what callers (uploads, downloads, chunk distribution) rely on. */
describe.each([
  ['fs', fsHarness],
  ['s3', () => s3Harness()],
])('the %s artifact store', (_name, makeHarness) => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(() => h.close());

  it('hashes while streaming, stores the blob under its digest and reads it back whole', async () => {
    const bytes = randomBytes(PART + 300_000); // more than one multipart part
    const blob = await h.store.ingest(chunked(bytes), 16 * MiB);
    expect(blob).toMatchObject({ sha256: sha256(bytes), sizeBytes: bytes.length });
    expect(await h.store.exists(blob.sha256)).toBe(false);
    await h.store.commit(blob);
    expect(await h.store.stat(blob.sha256)).toEqual({ sizeBytes: bytes.length });
    expect(sha256(await readStream(await h.store.createReadStream(blob.sha256)))).toBe(sha256(bytes));
    expect(await h.leftovers()).toEqual([]);
  });

  it('stores identical content once', async () => {
    const bytes = randomBytes(10_000);
    await h.store.put(bytes);
    await h.store.put(bytes);
    expect(await h.stored()).toBe(1);
    expect(await h.leftovers()).toEqual([]);
  });

  it('cuts an oversized stream off at the limit and leaves nothing behind, not even uploaded parts', async () => {
    const limit = PART + MiB; // past the first part: the s3 driver has begun a multipart upload
    await expect(h.store.ingest(chunked(randomBytes(limit + 2 * MiB)), limit)).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await h.leftovers()).toEqual([]);
    expect(await h.stored()).toBe(0);
  });

  it('accepts a blob of exactly the limit', async () => {
    expect((await h.store.ingest(chunked(randomBytes(4096)), 4096)).sizeBytes).toBe(4096);
  });

  it('rejects (and does not crash) when the source fails before the store is ready to read it', async () => {
    const source = new Readable({ read() {} });
    const ingest = h.store.ingest(source, 4096);
    source.destroy(new Error('Unexpected end of form'));
    await expect(ingest).rejects.toThrow('Unexpected end of form');
    expect(await h.leftovers()).toEqual([]);
  });

  it('rejects with the source error when the client goes away mid-upload, and keeps nothing of it', async () => {
    const source = new Readable({ read() {} });
    const ingest = h.store.ingest(source, 64 * MiB);
    ingest.catch(() => undefined);
    for (let i = 0; i < 7; i++) source.push(randomBytes(MiB));
    await waitFor(() => h.uploadBegun(), (begun) => begun, 10_000, 'the upload to reach the store');
    source.destroy(new Error('client went away'));
    await expect(ingest).rejects.toThrow('client went away');
    // Checked at once: the store is done with the failure when ingest settles.
    expect(await h.leftovers()).toEqual([]);
    expect(await h.stored()).toBe(0);
  });

  it('reads exact ranges (chunks, HTTP Range) anywhere in the blob, across block boundaries', async () => {
    const bytes = randomBytes(2 * MiB + 12_345);
    const { sha256: digest } = await h.store.put(bytes);
    const reader = await h.store.openRanges(digest);
    try {
      for (const [offset, length] of [[0, 1], [MiB - 10, 20], [128 * 1024 * 15, 128 * 1024], [bytes.length - 12_345, 12_345], [0, bytes.length]] as const) {
        expect((await reader.read(offset, length)).equals(bytes.subarray(offset, offset + length))).toBe(true);
      }
      await expect(reader.read(bytes.length - 10, 20)).rejects.toThrow();
    } finally {
      await reader.close();
    }
    const part = await readStream(await h.store.createReadStream(digest, { start: 1000, end: MiB + 999 }));
    expect(part.equals(bytes.subarray(1000, MiB + 1000))).toBe(true);
  });

  it('reports a missing artifact as absent, and refuses to read it', async () => {
    const missing = sha256(randomBytes(8));
    expect(await h.store.stat(missing)).toBeUndefined();
    expect(await h.store.exists(missing)).toBe(false);
    await expect(h.store.openRanges(missing)).rejects.toThrow();
    await expect(h.store.createReadStream(missing)).rejects.toThrow();
  });

  it('deletes an artifact', async () => {
    const { sha256: digest } = await h.store.put(randomBytes(1000));
    await h.store.delete(digest);
    expect(await h.store.exists(digest)).toBe(false);
    expect(await h.stored()).toBe(0);
  });

  it('gives a staged blob as a local file (the upload check loads it) and cleans up after', async () => {
    const bytes = randomBytes(300_000);
    const blob = await h.store.ingest(chunked(bytes), MiB);
    const local = await h.store.localFile(blob);
    expect(sha256(await readFile(local.path))).toBe(sha256(bytes));
    await local.release();
    await h.store.discard(blob);
    expect(await h.leftovers()).toEqual([]);
    expect(await h.stored()).toBe(0);
  });

  it('refuses a key that is not a digest', async () => {
    await expect(h.store.stat('../../etc/passwd')).rejects.toThrow('not a sha256 digest');
  });
});

describe('the s3 store reads chunks through its block cache', () => {
  it('serves a broadcast of 128 KiB chunks with one ranged GET per 1 MiB block, and a repeat from memory', async () => {
    const h = await s3Harness(new BlockCache(MiB, 8 * MiB));
    try {
      const bytes = randomBytes(3 * MiB - 1000);
      const { sha256: digest } = await h.store.put(bytes);
      const chunk = 128 * 1024;
      const reader = await h.store.openRanges(digest);
      const indices = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => i);
      const read = (i: number) => reader.read(i * chunk, Math.min(chunk, bytes.length - i * chunk));
      // 16 at once, as the distribution service reads them.
      const chunks = await Promise.all(indices.map(read));
      expect(sha256(Buffer.concat(chunks))).toBe(sha256(bytes));
      expect(h.cache.fetches).toBe(3);
      await Promise.all(indices.slice(0, 5).map(read)); // a repair of chunks already read
      expect(h.cache.fetches).toBe(3);
    } finally {
      await h.close();
    }
  });
});

describe('the s3 store when S3 refuses', () => {
  it.each([
    ['a single PUT', 10_000],
    // Larger than the parts lib-storage holds: the source is still flowing when S3 refuses.
    ['a multipart upload', 4 * PART],
  ])('fails an upload sent as %s with a 503-kind error naming the bucket, without hanging', async (_how, size) => {
    const localDir = await mkdtemp(join(tmpdir(), 'ef-store-s3-'));
    const store = new S3ArtifactStore({ client: s3Client(), bucket: 'no-such-bucket', prefix: '', partSizeBytes: PART, cache: new BlockCache(MiB, MiB), localDir });
    try {
      const failure = await store.ingest(chunked(randomBytes(size)), 64 * MiB).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(ArtifactStoreUnavailableError);
      expect((failure as Error).message).toContain("bucket 'no-such-bucket'");
      expect((failure as Error).cause).toBeDefined();
    } finally {
      await store.close();
      await rm(localDir, { recursive: true, force: true });
    }
  });
});
