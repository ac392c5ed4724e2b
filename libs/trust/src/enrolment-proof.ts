import { sign, verify, type KeyObject } from 'node:crypto';
import { publicKeyObject } from './keys.js';

/**
 * Proof of possession for re-enrolment: the node signs, with the Ed25519 key it registered at its first
 * enrolment, a fresh single-use nonce from the control plane together with its node key and the public key
 * it enrols with. Binding the node key and the public key stops a signature for one node (or one key)
 * being replayed for another; the nonce stops it being replayed at all.
 */
export interface EnrolmentProofFields {
  /** From `POST /v1/enroll/challenge`: base64url, no separators. */
  readonly nonce: string;
  readonly nodeKey: string;
  /** Base64 SPKI DER of the node's Ed25519 public key. */
  readonly publicKey: string;
}

/** Domain separation: a signature made for anything else can never pass as an enrolment proof. */
export const ENROLMENT_PROOF_CONTEXT = 'edgefleet-enrolment-proof/v1';

const FIELD_PATTERNS: Record<keyof EnrolmentProofFields, RegExp> = {
  nonce: /^[A-Za-z0-9_-]{16,128}$/,
  nodeKey: /^[A-Za-z0-9._:-]{8,200}$/,
  publicKey: /^[A-Za-z0-9+/]{16,256}={0,2}$/,
};

export class EnrolmentProofError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EnrolmentProofError';
  }
}

/**
 * The exact bytes that are signed: one field per line after the context. No field can hold a newline
 * (checked), so two different field sets never give the same message.
 */
export function enrolmentProofMessage(fields: EnrolmentProofFields): Buffer {
  for (const name of ['nonce', 'nodeKey', 'publicKey'] as const) {
    if (!FIELD_PATTERNS[name].test(fields[name])) throw new EnrolmentProofError(`${name} is not well-formed`);
  }
  return Buffer.from(`${ENROLMENT_PROOF_CONTEXT}\n${fields.nonce}\n${fields.nodeKey}\n${fields.publicKey}`, 'utf8');
}

/** Base64 Ed25519 signature of the proof message. */
export function signEnrolmentProof(privateKey: KeyObject, fields: EnrolmentProofFields): string {
  return sign(null, enrolmentProofMessage(fields), privateKey).toString('base64');
}

/** True only when `signature` is the registered key's signature over exactly these fields. */
export function verifyEnrolmentProof(registeredPublicKey: string, fields: EnrolmentProofFields, signature: string): boolean {
  let key: KeyObject;
  try {
    key = publicKeyObject(registeredPublicKey);
  } catch {
    return false;
  }
  if (key.asymmetricKeyType !== 'ed25519') return false;
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.length !== 64) return false;
  try {
    return verify(null, enrolmentProofMessage(fields), key, bytes);
  } catch {
    return false;
  }
}

/** Whether `publicKey` is a base64 SPKI DER Ed25519 public key (what a node may register). */
export function isEd25519PublicKey(publicKey: string): boolean {
  if (!FIELD_PATTERNS.publicKey.test(publicKey)) return false;
  try {
    return publicKeyObject(publicKey).asymmetricKeyType === 'ed25519';
  } catch {
    return false;
  }
}
