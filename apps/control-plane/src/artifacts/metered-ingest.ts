import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { PayloadTooLargeError } from '#common';

/** Counts and hashes the bytes that pass; fails with PayloadTooLargeError past `maxBytes`. */
export class DigestMeter extends Transform {
  private readonly hash = createHash('sha256');
  sizeBytes = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null, data?: Buffer) => void): void {
    this.sizeBytes += chunk.length;
    if (this.sizeBytes > this.maxBytes) return done(new PayloadTooLargeError(this.maxBytes));
    this.hash.update(chunk);
    done(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Runs `prepare` (making a directory, opening an upload) while holding on to an error `source` may emit
 * meanwhile: a client cutting its upload before `pipeline` listens would otherwise be an 'error' with no
 * listener, which takes the whole process down. Rethrows that error once `prepare` is done.
 */
export async function prepareWhileGuarded<T>(source: Readable, prepare: () => Promise<T>): Promise<T> {
  let earlyError: unknown;
  const recordEarly = (error: unknown) => (earlyError ??= error);
  source.on('error', recordEarly);
  let prepared: T;
  try {
    prepared = await prepare();
  } catch (error) {
    source.destroy();
    throw error;
  } finally {
    source.off('error', recordEarly);
  }
  if (earlyError !== undefined) throw earlyError;
  return prepared;
}
