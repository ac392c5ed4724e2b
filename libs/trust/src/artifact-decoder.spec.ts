import { describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { type SignedArtifact, TrustError, verifyEncodedArtifact } from './index.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const describeBytes = (b: Buffer) => ({ sha256: sha256(b), size: b.length });

/** A model-like payload: random weights with long runs of zeros (as a pruned model has). */
const model = Buffer.concat(Array.from({ length: 64 }, (_, i) => (i % 2 ? Buffer.alloc(4096) : randomBytes(1024))));
const encoded = gzipSync(model);

/** The signed description of `decoded` travelling as `wire`; the digests may be overridden to lie. */
const signed = (decoded: Buffer, wire: Buffer, over: Partial<SignedArtifact> = {}) => ({ ...describeBytes(decoded), encoding: { name: 'gzip', ...describeBytes(wire) }, ...over });

async function decode(wire: Buffer, artifact: ReturnType<typeof signed>): Promise<{ out: Buffer; maxChunk: number }> {
  const chunks: Buffer[] = [];
  await verifyEncodedArtifact(() => Readable.from([wire]), artifact, { stallTimeoutMs: 5000, onChunk: (c) => void chunks.push(c) });
  return { out: Buffer.concat(chunks), maxChunk: Math.max(0, ...chunks.map((c) => c.length)) };
}

const reason = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(TrustError);
  return (error as TrustError).reason;
};

describe('verifyEncodedArtifact', () => {
  it('gives the decoded model when both signed digests match', async () => {
    const { out } = await decode(encoded, signed(model, encoded));
    expect(out.equals(model)).toBe(true);
    expect(encoded.length).toBeLessThan(model.length);
  });

  it('refuses encoded bytes whose digest is not the signed one before decoding anything', async () => {
    const tampered = Buffer.from(encoded);
    tampered[tampered.length - 20] ^= 0xff;
    let decoded = 0;
    const error = verifyEncodedArtifact(() => Readable.from([tampered]), { ...signed(model, encoded), encoding: { name: 'gzip', sha256: sha256(encoded), size: tampered.length } }, { stallTimeoutMs: 5000, onChunk: () => void decoded++ });
    expect(await reason(error)).toBe('hash-mismatch');
    expect(decoded).toBe(0);
  });

  it('refuses a decoded model whose digest is not the signed one', async () => {
    const other = Buffer.from(model);
    other[0] ^= 0xff;
    const wire = gzipSync(other);
    expect(await reason(decode(wire, signed(model, wire, { sha256: sha256(model) })))).toBe('hash-mismatch');
  });

  it('cuts a zip bomb off at the signed decoded size, holding one decoder chunk at a time', async () => {
    // 512 MiB of zeros compress to about 500 KiB; the manifest says the model is 1 KiB.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const wire = Buffer.concat(Array.from({ length: 8 }, () => bomb)); // gzip members concatenate
    const small = Buffer.alloc(1024);
    const before = process.memoryUsage().rss;
    expect(await reason(decode(wire, signed(small, wire)))).toBe('size-exceeded');
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses a decoded stream shorter than the signed size', async () => {
    const wire = gzipSync(model.subarray(0, 1000));
    expect(await reason(decode(wire, signed(model, wire, { sha256: sha256(model), size: model.length })))).toBe('size-mismatch');
  });

  it('names a truncated stream decode-failed, even when its truncated bytes are what was signed', async () => {
    const truncated = encoded.subarray(0, Math.floor(encoded.length / 2));
    expect(await reason(decode(truncated, signed(model, truncated)))).toBe('decode-failed');
  });

  it('names bytes that are not gzip at all decode-failed', async () => {
    const garbage = randomBytes(4096);
    expect(await reason(decode(garbage, signed(model, garbage)))).toBe('decode-failed');
  });

  it('refuses an encoding it does not know', async () => {
    expect(await reason(decode(encoded, { ...signed(model, encoded), encoding: { name: 'zstd', ...describeBytes(encoded) } }))).toBe('decode-failed');
  });
});
