import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsyncPath, PayloadTooLargeError } from '#common';

/** A blob written to the store's temporary area, hashed and sized, not yet addressable. */
export interface IngestedBlob {
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly tempPath: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Content-addressed blobs on local disk: `<root>/sha256/<2 hex>/<64 hex>`. Uploads stream into
 * `<root>/tmp` while being hashed and counted, so nothing is buffered in memory and an oversized upload
 * is cut off at the limit; a finished blob is fsynced and renamed into place, or dropped when the same
 * content is already stored.
 */
export class ArtifactStore {
  constructor(private readonly root: string) {}

  pathFor(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
    return join(this.root, 'sha256', sha256.slice(0, 2), sha256);
  }

  async ingest(source: Readable, maxBytes: number): Promise<IngestedBlob> {
    // The source can fail (a client cutting its upload) while the directory is still being made, before
    // `pipeline` listens: an 'error' with no listener would take the whole process down.
    let earlyError: unknown;
    const recordEarly = (error: unknown) => (earlyError ??= error);
    source.on('error', recordEarly);
    const tmpDir = join(this.root, 'tmp');
    try {
      await mkdir(tmpDir, { recursive: true });
    } catch (error) {
      source.destroy();
      throw error;
    }
    if (earlyError !== undefined) throw earlyError;
    source.off('error', recordEarly);
    const tempPath = join(tmpDir, randomUUID());
    const hash = createHash('sha256');
    let sizeBytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sizeBytes += chunk.length;
        if (sizeBytes > maxBytes) return done(new PayloadTooLargeError(maxBytes));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tempPath, { flags: 'wx' }));
      await fsyncPath(tempPath);
    } catch (error) {
      await rm(tempPath, { force: true });
      throw error;
    }
    return { sha256: hash.digest('hex'), sizeBytes, tempPath };
  }

  /** Makes the blob addressable by its digest. Identical content is stored once. */
  async commit(blob: IngestedBlob): Promise<void> {
    const target = this.pathFor(blob.sha256);
    if (await exists(target)) {
      await this.discard(blob);
      return;
    }
    await mkdir(join(target, '..'), { recursive: true });
    await rename(blob.tempPath, target);
    await fsyncPath(join(target, '..'));
  }

  async discard(blob: IngestedBlob): Promise<void> {
    await rm(blob.tempPath, { force: true });
  }

  async has(sha256: string): Promise<boolean> {
    return exists(this.pathFor(sha256));
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
