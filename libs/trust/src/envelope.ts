import { sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { publicKeyObject, type SigningKey } from './keys.js';
import { TrustError } from './trust-error.js';

export interface Signature {
  readonly keyId: string;
  readonly sig: string; // base64 Ed25519 signature over canonicalJson(signed)
}

/** A signed document, TUF style: the payload and detached signatures over its canonical bytes. */
export interface Envelope<T> {
  readonly signed: T;
  readonly signatures: readonly Signature[];
}

export function signEnvelope<T>(signed: T, keys: readonly SigningKey[]): Envelope<T> {
  const bytes = Buffer.from(canonicalJson(signed));
  return { signed, signatures: keys.map((k) => ({ keyId: k.keyId, sig: sign(null, bytes, k.privateKey).toString('base64') })) };
}

export interface Role {
  readonly keyIds: readonly string[];
  readonly threshold: number;
}

/**
 * Counts distinct keys of `role` that validly signed the envelope, ignoring revoked keys and keys the
 * role does not list. Throws unless the count reaches the role's threshold.
 */
export function verifyThreshold<T>(
  envelope: Envelope<T>,
  role: Role,
  publicKeys: Readonly<Record<string, string>>,
  revokedKeyIds: readonly string[] = [],
): void {
  const bytes = Buffer.from(canonicalJson(envelope.signed));
  const valid = new Set<string>();
  let revokedSigners = 0;
  let badSignatures = 0;
  for (const { keyId, sig } of envelope.signatures) {
    if (!role.keyIds.includes(keyId) || valid.has(keyId)) continue;
    if (revokedKeyIds.includes(keyId)) {
      revokedSigners++;
      continue;
    }
    const publicKey = publicKeys[keyId];
    if (publicKey && verify(null, bytes, publicKeyObject(publicKey), Buffer.from(sig, 'base64'))) valid.add(keyId);
    else badSignatures++;
  }
  if (valid.size >= role.threshold) return;
  if (badSignatures > 0) throw new TrustError('bad-signature', `${badSignatures} signature(s) do not verify`);
  if (revokedSigners > 0) throw new TrustError('revoked-key', 'signed by a revoked key');
  throw new TrustError('threshold', `${valid.size} valid signature(s), ${role.threshold} required`);
}

export function assertNotExpired(expires: string, now: Date, what: string): void {
  const at = Date.parse(expires);
  if (!Number.isFinite(at)) throw new TrustError('malformed', `${what} has no valid expiry`);
  if (at <= now.getTime()) throw new TrustError('expired', `${what} expired at ${expires}`);
}
