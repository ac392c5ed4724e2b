import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, constants, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsyncPath } from '#common';
import { type ArtifactRangeReader, ArtifactStore, ArtifactStoreUnavailableError, assertDigest, type ByteRange, type IngestedBlob, type LocalBlobFile } from './artifact-store.js';
import { DigestMeter, prepareWhileGuarded } from './metered-ingest.js';

/**
 * The `fs` driver: blobs on local disk at `<root>/sha256/<2 hex>/<64 hex>`, staged in `<root>/tmp`. A
 * finished blob is fsynced and renamed into place, or dropped when the same content is already stored.
 * One replica only: another replica cannot read this disk.
 */
export class FsArtifactStore extends ArtifactStore {
  constructor(private readonly root: string) {
    super();
  }

  pathFor(sha256: string): string {
    assertDigest(sha256);
    return join(this.root, 'sha256', sha256.slice(0, 2), sha256);
  }

  async verifyReachable(): Promise<void> {
    const tmp = join(this.root, 'tmp');
    try {
      await mkdir(tmp, { recursive: true });
      await access(tmp, constants.W_OK);
    } catch (error) {
      throw new ArtifactStoreUnavailableError(`artifact directory ${this.root} is not writable`, { cause: error });
    }
  }

  async ingest(source: Readable, maxBytes: number): Promise<IngestedBlob> {
    const tmpDir = join(this.root, 'tmp');
    await prepareWhileGuarded(source, () => mkdir(tmpDir, { recursive: true }));
    const staging = join(tmpDir, randomUUID());
    const meter = new DigestMeter(maxBytes);
    try {
      await pipeline(source, meter, createWriteStream(staging, { flags: 'wx' }));
      await fsyncPath(staging);
    } catch (error) {
      await rm(staging, { force: true });
      throw error;
    }
    return { sha256: meter.digest(), sizeBytes: meter.sizeBytes, staging };
  }

  async commit(blob: IngestedBlob): Promise<void> {
    const target = this.pathFor(blob.sha256);
    if (await this.exists(blob.sha256)) {
      await this.discard(blob);
      return;
    }
    await mkdir(join(target, '..'), { recursive: true });
    await rename(blob.staging, target);
    await fsyncPath(join(target, '..'));
  }

  async discard(blob: IngestedBlob): Promise<void> {
    await rm(blob.staging, { force: true });
  }

  /** The staged file itself: nothing to copy, nothing to release. */
  async localFile(blob: IngestedBlob): Promise<LocalBlobFile> {
    return { path: blob.staging, release: async () => undefined };
  }

  async stat(sha256: string): Promise<{ sizeBytes: number } | undefined> {
    try {
      return { sizeBytes: (await stat(this.pathFor(sha256))).size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async openRanges(sha256: string): Promise<ArtifactRangeReader> {
    const file = await open(this.pathFor(sha256), 'r');
    return {
      read: async (offset, length) => {
        const data = Buffer.allocUnsafe(length);
        const { bytesRead } = await file.read(data, 0, length, offset);
        if (bytesRead !== length) throw new RangeError(`artifact ${sha256}: ${bytesRead} bytes at ${offset}, expected ${length}`);
        return data;
      },
      close: () => file.close(),
    };
  }

  async createReadStream(sha256: string, range?: ByteRange): Promise<Readable> {
    // Opened before it is returned: a missing file is a rejection here, not an error on a stream already piped.
    const file = await open(this.pathFor(sha256), 'r');
    return file.createReadStream({ start: range?.start, end: range?.end });
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.pathFor(sha256), { force: true });
  }
}
