import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DownloadStore } from './download-store.js';

describe('DownloadStore', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ef-dl-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const bytes = randomBytes(10_000);
  const layout = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, chunkSize: 4096, chunkCount: 3 };
  const chunk = (i: number) => bytes.subarray(i * 4096, Math.min((i + 1) * 4096, bytes.length));

  it('prunes the downloads of other artifacts and keeps the one asked for', async () => {
    const other = { ...layout, sha256: 'f'.repeat(64) };
    await (await DownloadStore.open(root, layout)).write(0, chunk(0), 1);
    await (await DownloadStore.open(root, other)).write(0, chunk(0), 1);
    expect(await DownloadStore.prune(root, layout.sha256)).toEqual([other.sha256]);
    expect(await readdir(join(root, 'downloads'))).toEqual([layout.sha256]);
    expect(await DownloadStore.prune(root, undefined)).toEqual([layout.sha256]);
    expect(await readdir(join(root, 'downloads'))).toEqual([]);
  });

  it('reassembles chunks that arrive in any order', async () => {
    const store = await DownloadStore.open(root, layout);
    for (const i of [2, 0, 1]) await store.write(i, chunk(i));
    expect(store.complete).toBe(true);
    expect((await readFile(store.dataPath)).equals(bytes)).toBe(true);
  });

  it('resumes after a restart, asking only for what is missing', async () => {
    const first = await DownloadStore.open(root, layout);
    await first.write(0, chunk(0), 1);
    await first.write(2, chunk(2), 1);
    const again = await DownloadStore.open(root, layout);
    expect(again.missing()).toEqual([1]);
    await again.write(1, chunk(1));
    expect((await readFile(again.dataPath)).equals(bytes)).toBe(true);
  });

  it('refuses a chunk of the wrong length', async () => {
    const store = await DownloadStore.open(root, layout);
    await expect(store.write(0, Buffer.alloc(10))).rejects.toThrow('expected 4096');
  });

  it('checks free disk before allocating', async () => {
    await expect(DownloadStore.open(root, { ...layout, sha256: 'f'.repeat(64), size: Number.MAX_SAFE_INTEGER })).rejects.toThrow('free disk');
  });
});
