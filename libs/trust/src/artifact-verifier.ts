import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { TrustError } from './trust-error.js';

export interface ExpectedArtifact {
  readonly sha256: string;
  readonly size: number;
}

/**
 * Consumes an artifact stream and checks it against the manifest: never more bytes than promised
 * (endless data), no gap longer than `stallTimeoutMs` (slow retrieval), then exact size and digest
 * (arbitrary software, mix-and-match). `onChunk` sees only bytes within the bound, so a caller can
 * stage them; nothing may be activated until this resolves.
 */
export async function verifyArtifactStream(
  source: Readable,
  expected: ExpectedArtifact,
  options: { stallTimeoutMs: number; onChunk?: (chunk: Buffer) => void | Promise<void> },
): Promise<void> {
  const hash = createHash('sha256');
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let received = 0;
  try {
    for (;;) {
      const next = await withStallTimeout(chunks.next(), options.stallTimeoutMs);
      if (next.done) break;
      received += next.value.length;
      if (received > expected.size) throw new TrustError('size-exceeded', `more than the ${expected.size} bytes the manifest names`);
      hash.update(next.value);
      await options.onChunk?.(next.value);
    }
  } catch (error) {
    source.destroy();
    throw error;
  }
  if (received !== expected.size) throw new TrustError('size-mismatch', `${received} bytes, the manifest names ${expected.size}`);
  const digest = hash.digest('hex');
  if (digest !== expected.sha256) throw new TrustError('hash-mismatch', `sha256 ${digest} does not match the manifest`);
}

async function withStallTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TrustError('stalled', `no data for ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, stalled]);
  } finally {
    clearTimeout(timer);
  }
}
