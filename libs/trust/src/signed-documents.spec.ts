import { describe, expect, it } from '@jest/globals';
import { desiredStateMessage } from '#protocol';
import { generateSigningKey } from './keys.js';
import { buildRoot } from './root.js';
import { type ModelManifest, parseManifestEnvelope, signManifest, verifyManifest } from './manifest.js';
import { signDesiredState, verifyDesiredState } from './desired-state.js';
import { TrustError } from './trust-error.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const LATER = new Date('2027-12-01T12:00:00Z');
const releaseKey = generateSigningKey();
const root = buildRoot({ version: 1, expires: LATER, rootKeys: [releaseKey], rootThreshold: 1, releaseKeys: [releaseKey], releaseThreshold: 1 });
const manifest: ModelManifest = {
  type: 'model-manifest', name: 'digits', version: '1.0.0', sequence: 3, variant: 'fp32', format: 'onnx', engine: 'onnxruntime', sha256: 'a'.repeat(64), size: 10,
  inputSpec: { name: 'input', shape: [1, 4], dtype: 'float32' }, outputSpec: { name: 'probabilities', shape: [1, 2] }, preprocessing: { scale: 0.5 }, labels: ['a', 'b'],
  selfTest: { input: [], expectedOutput: [], tolerance: 0 }, created: NOW.toISOString(), expires: LATER.toISOString(),
};

describe('the signed contract (libs/protocol schemas, libs/trust types)', () => {
  it('parses a stored manifest envelope into typed fields and keeps keys a newer signer added, so it still verifies', () => {
    const signed = signManifest({ ...manifest, licence: 'apache-2.0', inputSpec: { ...manifest.inputSpec, layout: 'NHWC' } }, [releaseKey]);
    const parsed = parseManifestEnvelope(JSON.parse(JSON.stringify(signed)));
    expect(parsed.signed.inputSpec.shape).toEqual([1, 4]);
    expect(parsed.signed['licence']).toBe('apache-2.0');
    expect(verifyManifest(parsed, root, { now: NOW }).sequence).toBe(3);
  });

  it.each([
    ['no signatures', { signed: manifest, signatures: [] }],
    ['a sequence that is not an integer', { signed: { ...manifest, sequence: 1.5 }, signatures: [{ keyId: 'f'.repeat(64), sig: 'x' }] }],
    ['another document type', { signed: { ...manifest, type: 'root' }, signatures: [{ keyId: 'f'.repeat(64), sig: 'x' }] }],
    ['a shape of strings', { signed: { ...manifest, inputSpec: { shape: ['1'] } }, signatures: [{ keyId: 'f'.repeat(64), sig: 'x' }] }],
  ])('refuses a stored manifest with %s as malformed', (_, value) => {
    expect(() => parseManifestEnvelope(value)).toThrow(TrustError);
    expect(() => parseManifestEnvelope(value)).toThrow(/not a signed model manifest/);
  });

  it('carries a signed desired state through the wire schema typed, and it still verifies', () => {
    const desired = signDesiredState(
      { type: 'desired-state', nodeId: 'node-a', deploymentId: 'dep-1', manifest: signManifest(manifest, [releaseKey]), issued: NOW.toISOString(), expires: LATER.toISOString() },
      [releaseKey],
    );
    const message = desiredStateMessage.parse({
      v: 1, id: '8f7a5bd5-6e0c-4c43-9f0f-0d6a8d1f9a11', ts: NOW.toISOString(), desired: JSON.parse(JSON.stringify(desired)),
      artifact: { sha256: manifest.sha256, size: 10, chunkSize: 4096, chunkCount: 1 },
    });
    expect(message.desired.signed.manifest.signed.version).toBe('1.0.0');
    expect(verifyDesiredState(message.desired, root, { nodeId: 'node-a', now: NOW }).deploymentId).toBe('dep-1');
  });
});
