import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PayloadTooLargeError } from '#common';
import { FsArtifactStore } from './fs-artifact-store.js';

describe('FsArtifactStore', () => {
  let root: string;
  let store: FsArtifactStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ef-store-'));
    store = new FsArtifactStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const chunks = (bytes: Buffer, size = 1000) =>
    Readable.from(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)));

  it('hashes while streaming and stores the blob under its digest', async () => {
    const bytes = Buffer.from('x'.repeat(10_000));
    const blob = await store.ingest(chunks(bytes), 1_000_000);
    expect(blob.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(blob.sizeBytes).toBe(10_000);
    await store.commit(blob);
    expect(await readFile(store.pathFor(blob.sha256))).toEqual(bytes);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('stores identical content once', async () => {
    const bytes = Buffer.from('same');
    await store.commit(await store.ingest(chunks(bytes), 100));
    const again = await store.ingest(chunks(bytes), 100);
    await store.commit(again);
    expect(await readdir(join(root, 'sha256', again.sha256.slice(0, 2)))).toEqual([again.sha256]);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('cuts an oversized stream off at the limit and leaves no partial file', async () => {
    await expect(store.ingest(chunks(Buffer.alloc(5000)), 4096)).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('accepts a blob of exactly the limit', async () => {
    expect((await store.ingest(chunks(Buffer.alloc(4096)), 4096)).sizeBytes).toBe(4096);
  });

  it('rejects (and does not crash) when the source fails before the store is ready to read it', async () => {
    const source = new Readable({ read() {} });
    const ingest = store.ingest(source, 4096);
    // Synchronously, while ingest is still creating its directory: no pipeline listens yet.
    source.destroy(new Error('Unexpected end of form'));
    await expect(ingest).rejects.toThrow('Unexpected end of form');
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('refuses a path for something that is not a digest', () => {
    expect(() => store.pathFor('../../etc/passwd')).toThrow('not a sha256 digest');
  });
});
