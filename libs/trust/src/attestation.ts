import { sign, verify, type KeyObject } from 'node:crypto';
import { publicKeyObject } from './keys.js';

/**
 * Attestation: the node signs, with the Ed25519 key it registered at enrolment, the digest of the model
 * bytes its engine actually loaded, bound to its node id and to the control plane's current nonce. The
 * nonce makes a recorded report useless once it rotates; the node id stops one node's report passing as
 * another's. It proves which bytes the agent loaded, not that the agent is honest: a node whose key is
 * stolen can lie (see docs/security.md).
 */
export interface AttestationFields {
  readonly nodeId: string;
  /** The control plane's attestation nonce (base64url). */
  readonly nonce: string;
  /** sha256 (hex) of the bytes handed to the engine. */
  readonly sha256: string;
}

/** Domain separation: a signature made for anything else (e.g. an enrolment proof) never passes as one. */
export const ATTESTATION_CONTEXT = 'edgefleet-attestation/v1';

const FIELD_PATTERNS: Record<keyof AttestationFields, RegExp> = {
  nodeId: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  nonce: /^[A-Za-z0-9_-]{16,128}$/,
  sha256: /^[0-9a-f]{64}$/,
};

export class AttestationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AttestationError';
  }
}

/** The exact bytes signed: one field per line after the context (no field can hold a newline: checked). */
export function attestationMessage(fields: AttestationFields): Buffer {
  for (const name of ['nodeId', 'nonce', 'sha256'] as const) {
    if (!FIELD_PATTERNS[name].test(fields[name])) throw new AttestationError(`${name} is not well-formed`);
  }
  return Buffer.from(`${ATTESTATION_CONTEXT}\n${fields.nodeId}\n${fields.nonce}\n${fields.sha256}`, 'utf8');
}

/** Base64 Ed25519 signature of the attestation message. */
export function signAttestation(privateKey: KeyObject, fields: AttestationFields): string {
  return sign(null, attestationMessage(fields), privateKey).toString('base64');
}

/** True only when `signature` is the registered key's signature over exactly these fields. Never throws. */
export function verifyAttestation(registeredPublicKey: string, fields: AttestationFields, signature: string): boolean {
  try {
    const key = publicKeyObject(registeredPublicKey);
    const bytes = Buffer.from(signature, 'base64');
    return key.asymmetricKeyType === 'ed25519' && bytes.length === 64 && verify(null, attestationMessage(fields), key, bytes);
  } catch {
    return false;
  }
}
