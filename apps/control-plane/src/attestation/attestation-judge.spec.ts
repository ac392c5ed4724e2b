import { generateKeyPairSync } from 'node:crypto';
import { signAttestation } from '#trust';
import { judge } from './attestation-judge.js';

const nodeId = '3f1c2a8e-8d6b-4a71-9c1e-2b7f0e5d9a10';
const nonce = 'nonce-0123456789abcdef';
const assigned = 'a'.repeat(64);
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const subject = { nodeId, publicKey: spki, assignedSha256: assigned, applyingSha256: [] as string[], verdict: null };
const report = (sha256: string, claimedSha256: string | null = sha256, key = privateKey) => ({ nodeId, nonce, sha256, claimedSha256, sig: signAttestation(key, { nodeId, nonce, sha256 }) });
const current = (n: string) => n === nonce;

describe('judge', () => {
  it('verifies the assigned bytes, signed by the node key, over a current nonce', () => {
    expect(judge(report(assigned), subject, current)).toBe('verified');
  });

  it('flags loaded bytes other than the assigned release, or than the heartbeat claims', () => {
    expect(judge(report('b'.repeat(64)), subject, current)).toBe('mismatch');
    expect(judge(report(assigned, 'b'.repeat(64)), subject, current)).toBe('mismatch');
    expect(judge(report(assigned), { ...subject, assignedSha256: null }, current)).toBe('mismatch');
  });

  it('verifies the release of a deployment still being applied (activated, commit not stored yet)', () => {
    const next = 'c'.repeat(64);
    expect(judge(report(next), { ...subject, applyingSha256: [next] }, current)).toBe('verified');
    expect(judge(report(next), subject, current)).toBe('mismatch');
  });

  it('calls a signature by another key invalid', () => {
    expect(judge(report(assigned, assigned, generateKeyPairSync('ed25519').privateKey), subject, current)).toBe('invalid');
  });

  it('does not judge a stale nonce or a node without a registered key', () => {
    expect(judge(report(assigned), subject, () => false)).toBe('stale-nonce');
    expect(judge(report(assigned), { ...subject, publicKey: null }, current)).toBe('no-key');
    expect(judge(report(assigned), undefined, current)).toBe('no-key');
  });
});
