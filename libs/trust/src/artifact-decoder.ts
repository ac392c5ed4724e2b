import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { type ArtifactEncoding, isKnownEncoding } from '#protocol';
import { type ExpectedArtifact, verifyArtifactStream } from './artifact-verifier.js';
import { TrustError } from './trust-error.js';

/** The signed description of an artifact: the decoded model and, when it travels encoded, the encoded bytes. */
export interface SignedArtifact extends ExpectedArtifact {
  readonly encoding?: ArtifactEncoding;
}

export interface DecodeOptions {
  readonly stallTimeoutMs: number;
  /** Receives the decoded bytes, never more than the signed decoded size in all. */
  readonly onChunk: (chunk: Buffer) => void | Promise<void>;
}

/**
 * Verifies an encoded artifact and decodes it, in this order: the transferred bytes against the signed
 * encoding digest and size (nothing unsigned reaches the decoder); then the decoded stream against the
 * signed decoded size and digest. The decoder's output is pulled chunk by chunk and cut off at the first
 * byte past the decoded size (`size-exceeded`), so a zip bomb costs one chunk of memory, not the bomb's
 * size; a stream that does not decode is `decode-failed`. `open` is called twice (one pass per check).
 */
export async function verifyEncodedArtifact(open: () => Readable, artifact: SignedArtifact & { encoding: ArtifactEncoding }, options: DecodeOptions): Promise<void> {
  if (!isKnownEncoding(artifact.encoding.name)) throw new TrustError('decode-failed', `unknown artifact encoding '${artifact.encoding.name}'`);
  await verifyArtifactStream(open(), artifact.encoding, { stallTimeoutMs: options.stallTimeoutMs });
  const source = open();
  const decoder = createGunzip();
  source.on('error', (error) => decoder.destroy(error));
  source.pipe(decoder);
  try {
    await verifyArtifactStream(decoder, artifact, options);
  } catch (error) {
    if (!isZlibError(error)) throw error;
    throw new TrustError('decode-failed', `the ${artifact.encoding.name} stream does not decode`, { cause: error });
  } finally {
    source.unpipe(decoder);
    source.destroy();
    decoder.destroy();
  }
}

/**
 * zlib's own errors carry a `Z_` code (Z_DATA_ERROR, Z_BUF_ERROR for a truncated stream); others are not
 * the stream's fault. Duck-typed: core errors may come from another realm (a test's VM context).
 */
function isZlibError(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('Z_');
}
