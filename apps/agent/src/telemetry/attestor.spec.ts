import { generateKeyPairSync } from 'node:crypto';
import { verifyAttestation } from '#trust';
import { Attestor } from './attestor.js';

const nodeId = '3f1c2a8e-8d6b-4a71-9c1e-2b7f0e5d9a10';

describe('Attestor', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

  it('reports nothing before it has a nonce, a model and a key', () => {
    const attestor = new Attestor(nodeId, privateKey);
    expect(attestor.report('a'.repeat(64))).toBeUndefined();
    attestor.heardNonce('nonce-0123456789abcdef');
    expect(attestor.report(undefined)).toBeUndefined();
    const keyless = new Attestor(nodeId, undefined);
    keyless.heardNonce('nonce-0123456789abcdef');
    expect(keyless.report('a'.repeat(64))).toBeUndefined();
  });

  it('signs the loaded digest over the latest nonce, and signs again when either changes', () => {
    const attestor = new Attestor(nodeId, privateKey);
    attestor.heardNonce('nonce-0123456789abcdef');
    const first = attestor.report('a'.repeat(64));
    expect(first && verifyAttestation(spki, { nodeId, nonce: first.nonce, sha256: first.sha256 }, first.sig)).toBe(true);
    expect(attestor.report('a'.repeat(64))).toBe(first);
    const other = attestor.report('b'.repeat(64));
    expect(other?.sha256).toBe('b'.repeat(64));
    attestor.heardNonce('nonce-fedcba9876543210');
    const renewed = attestor.report('b'.repeat(64));
    expect(renewed?.nonce).toBe('nonce-fedcba9876543210');
    expect(renewed && verifyAttestation(spki, { nodeId, nonce: renewed.nonce, sha256: renewed.sha256 }, renewed.sig)).toBe(true);
  });
});
