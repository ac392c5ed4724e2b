import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, sign } from 'node:crypto';
import {
  ENROLMENT_PROOF_CONTEXT,
  enrolmentProofMessage,
  EnrolmentProofError,
  generateSigningKey,
  isEd25519PublicKey,
  signEnrolmentProof,
  verifyEnrolmentProof,
} from './index.js';

const key = generateSigningKey();
const fields = { nonce: 'bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2U', nodeKey: 'node-0123456789abcdef', publicKey: key.publicKey };

describe('enrolment proof', () => {
  it('signs the context, nonce, node key and public key, one per line', () => {
    expect(enrolmentProofMessage(fields).toString('utf8')).toBe(`${ENROLMENT_PROOF_CONTEXT}\n${fields.nonce}\n${fields.nodeKey}\n${fields.publicKey}`);
  });

  it('verifies a signature by the registered key over the same fields', () => {
    expect(verifyEnrolmentProof(key.publicKey, fields, signEnrolmentProof(key.privateKey, fields))).toBe(true);
  });

  it.each([
    ['another nonce', { nonce: 'b3RoZXItbm9uY2Utb3RoZXItbm9uY2U' }],
    ['another node key', { nodeKey: 'node-fedcba9876543210' }],
    ['another public key', { publicKey: generateSigningKey().publicKey }],
  ])('refuses the signature for %s', (_, change) => {
    const signature = signEnrolmentProof(key.privateKey, fields);
    expect(verifyEnrolmentProof(key.publicKey, { ...fields, ...change }, signature)).toBe(false);
  });

  it('refuses a signature by another key, a truncated one and garbage', () => {
    const other = generateSigningKey();
    expect(verifyEnrolmentProof(key.publicKey, fields, signEnrolmentProof(other.privateKey, fields))).toBe(false);
    expect(verifyEnrolmentProof(key.publicKey, fields, signEnrolmentProof(key.privateKey, fields).slice(0, 40))).toBe(false);
    expect(verifyEnrolmentProof(key.publicKey, fields, 'not base64 at all!')).toBe(false);
    expect(verifyEnrolmentProof('AAAA', fields, signEnrolmentProof(key.privateKey, fields))).toBe(false);
  });

  it('refuses a signature over the bare fields (no context): signatures made for something else never pass', () => {
    const bare = sign(null, Buffer.from(`${fields.nonce}\n${fields.nodeKey}\n${fields.publicKey}`), key.privateKey).toString('base64');
    expect(verifyEnrolmentProof(key.publicKey, fields, bare)).toBe(false);
  });

  it('refuses fields that could smuggle a separator', () => {
    expect(() => enrolmentProofMessage({ ...fields, nodeKey: 'node-aaaaaaaa\nnode-bbbbbbbb' })).toThrow(EnrolmentProofError);
    expect(() => enrolmentProofMessage({ ...fields, nonce: 'short' })).toThrow(EnrolmentProofError);
    expect(verifyEnrolmentProof(key.publicKey, { ...fields, nonce: 'x\ny' }, signEnrolmentProof(key.privateKey, fields))).toBe(false);
  });

  it('accepts only Ed25519 SPKI public keys', () => {
    expect(isEd25519PublicKey(key.publicKey)).toBe(true);
    const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    expect(isEd25519PublicKey(rsa)).toBe(false);
    expect(isEd25519PublicKey('A'.repeat(300))).toBe(false);
    expect(isEd25519PublicKey('not-a-key')).toBe(false);
  });
});
