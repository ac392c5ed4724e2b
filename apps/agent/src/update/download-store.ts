import { mkdir, open, readdir, rm, statfs, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../state/atomic-file.js';
import { failpoint } from './failpoints.js';

export interface DownloadLayout {
  readonly sha256: string;
  readonly size: number;
  readonly chunkSize: number;
  readonly chunkCount: number;
  /** The decoded model's size when the chunks are an encoded form of it (the manifest's `encoding`). */
  readonly decodedSize?: number;
}

export class InsufficientDiskError extends Error {
  constructor(
    readonly needed: number,
    readonly free: number,
  ) {
    super(`needs ${needed} bytes of free disk, has ${free}`);
    this.name = 'InsufficientDiskError';
  }
}

/**
 * An artifact being downloaded: chunks are written at their offset in one preallocated file, and the
 * set of chunks on disk is persisted (atomically, after the chunk's bytes) so a restart resumes: only
 * missing chunks are asked for again. A chunk written but not yet recorded is simply fetched twice.
 */
export class DownloadStore {
  private readonly received = new Set<number>();
  private unsaved = 0;

  private constructor(
    private readonly dir: string,
    readonly layout: DownloadLayout,
  ) {}

  static async open(root: string, layout: DownloadLayout): Promise<DownloadStore> {
    const dir = join(root, 'downloads', layout.sha256);
    await mkdir(dir, { recursive: true });
    const store = new DownloadStore(dir, layout);
    const saved = await readJsonFile<{ chunkSize: number; received: number[] }>(join(dir, 'progress.json'));
    if (saved && saved.chunkSize === layout.chunkSize) for (const i of saved.received) store.received.add(i);
    else {
      await assertFreeDisk(root, diskNeeded(layout));
      await (await open(store.dataPath, 'w')).close();
      await truncate(store.dataPath, layout.size);
    }
    return store;
  }

  get dataPath(): string {
    return join(this.dir, 'data');
  }

  /** Where an encoded download's decoded model is written, once both its digests verified. */
  get decodedPath(): string {
    return join(this.dir, 'decoded');
  }

  get complete(): boolean {
    return this.received.size === this.layout.chunkCount;
  }

  has(index: number): boolean {
    return this.received.has(index);
  }

  missing(): number[] {
    return Array.from({ length: this.layout.chunkCount }, (_, i) => i).filter((i) => !this.received.has(i));
  }

  /** Writes a chunk at its offset; the progress record follows every `saveEvery` chunks and at the end. */
  async write(index: number, data: Buffer, saveEvery = 16): Promise<void> {
    if (index >= this.layout.chunkCount || this.received.has(index)) return;
    const expected = Math.min(this.layout.chunkSize, this.layout.size - index * this.layout.chunkSize);
    if (data.length !== expected) throw new Error(`chunk ${index} has ${data.length} bytes, expected ${expected}`);
    const file = await open(this.dataPath, 'r+');
    try {
      await file.write(data, 0, data.length, index * this.layout.chunkSize);
      await file.sync();
    } finally {
      await file.close();
    }
    this.received.add(index);
    if (++this.unsaved >= saveEvery || this.complete) await this.save();
    if (this.received.size === Math.ceil(this.layout.chunkCount / 2)) failpoint('download:chunk-written');
  }

  async save(): Promise<void> {
    this.unsaved = 0;
    await writeJsonAtomic(join(this.dir, 'progress.json'), { chunkSize: this.layout.chunkSize, received: [...this.received] });
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Deletes the download of one artifact, open or not. */
  static async removeArtifact(root: string, sha256: string): Promise<void> {
    await rm(join(root, 'downloads', sha256), { recursive: true, force: true });
  }

  /**
   * Deletes the downloads of every artifact but `keep` (those of superseded or failed deployments).
   * `keep` may be a function, asked after the directory is read: a download opened meanwhile is kept.
   */
  static async prune(root: string, keep: string | undefined | (() => string | undefined)): Promise<string[]> {
    const dir = join(root, 'downloads');
    const names = await readdir(dir).catch(() => [] as string[]);
    const kept = typeof keep === 'function' ? keep() : keep;
    const stale = names.filter((name) => name !== kept);
    await Promise.all(stale.map((name) => rm(join(dir, name), { recursive: true, force: true })));
    return stale;
  }
}

/** The download plus the model's copy in a slot; an encoded download also needs room for its decoded form. */
function diskNeeded(layout: DownloadLayout): number {
  return layout.decodedSize === undefined ? layout.size * 2 : layout.size + layout.decodedSize * 2;
}

async function assertFreeDisk(path: string, needed: number): Promise<void> {
  const stats = await statfs(path);
  const free = stats.bavail * stats.bsize;
  if (free < needed) throw new InsufficientDiskError(needed, free);
}
