import { generateKeyPairSync } from 'node:crypto';
import { attestationMessage, signAttestation, verifyAttestation } from './attestation.js';

const pair = () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
};
const fields = { nodeId: '3f1c2a8e-8d6b-4a71-9c1e-2b7f0e5d9a10', nonce: 'nonce-0123456789abcdef', sha256: 'a'.repeat(64) };

describe('attestation', () => {
  it('verifies a report signed by the registered key', () => {
    const node = pair();
    expect(verifyAttestation(node.publicKey, fields, signAttestation(node.privateKey, fields))).toBe(true);
  });

  it('refuses another digest, another nonce, another node or another key', () => {
    const node = pair();
    const sig = signAttestation(node.privateKey, fields);
    expect(verifyAttestation(node.publicKey, { ...fields, sha256: 'b'.repeat(64) }, sig)).toBe(false);
    expect(verifyAttestation(node.publicKey, { ...fields, nonce: 'another-nonce-0123456' }, sig)).toBe(false);
    expect(verifyAttestation(node.publicKey, { ...fields, nodeId: '00000000-0000-4000-8000-000000000000' }, sig)).toBe(false);
    expect(verifyAttestation(pair().publicKey, fields, sig)).toBe(false);
  });

  it('refuses garbage without throwing', () => {
    expect(verifyAttestation('not a key', fields, 'AAAA')).toBe(false);
    expect(verifyAttestation(pair().publicKey, fields, 'AAAA')).toBe(false);
    expect(verifyAttestation(pair().publicKey, { ...fields, nonce: 'a\nb' }, 'A'.repeat(88))).toBe(false);
  });

  it('cannot be confused across fields (no field can hold the separator)', () => {
    expect(() => attestationMessage({ ...fields, nonce: `${fields.nonce}\n${'a'.repeat(64)}` })).toThrow(/nonce/);
  });
});
