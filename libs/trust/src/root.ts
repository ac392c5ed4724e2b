import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { assertNotExpired, type Envelope, type Role, signEnvelope, verifyThreshold } from './envelope.js';
import type { SigningKey } from './keys.js';
import { TrustError } from './trust-error.js';

/**
 * The root of trust: which keys may sign roots and releases, how many signatures each needs (k of n),
 * and which keys are revoked. With a `director` role (Uptane's split), release keys sign manifests only
 * (publishers may hold them outside the control plane) and director keys sign the desired states: a node
 * then needs both, and neither key set alone can make it run a model. Nodes pin the first root at enrolment and only move to a newer one that
 * the current root's threshold and the new root's threshold both signed.
 */
export interface RootDocument {
  readonly type: 'root';
  readonly version: number;
  readonly expires: string;
  /** keyId → base64 SPKI Ed25519 public key */
  readonly keys: Readonly<Record<string, string>>;
  readonly roles: { readonly root: Role; readonly release: Role; readonly director?: Role };
  readonly revokedKeyIds: readonly string[];
}

export interface NewRoot {
  readonly version: number;
  readonly expires: Date;
  readonly rootKeys: readonly SigningKey[];
  readonly rootThreshold: number;
  readonly releaseKeys: readonly SigningKey[];
  readonly releaseThreshold: number;
  /** Given: desired states are signed by these, manifests by the release keys only. */
  readonly director?: { readonly keys: readonly SigningKey[]; readonly threshold: number };
  readonly revokedKeyIds?: readonly string[];
}

export function buildRoot(input: NewRoot): RootDocument {
  const keys = Object.fromEntries([...input.rootKeys, ...input.releaseKeys, ...(input.director?.keys ?? [])].map((k) => [k.keyId, k.publicKey]));
  return {
    type: 'root',
    version: input.version,
    expires: input.expires.toISOString(),
    keys,
    roles: {
      root: { keyIds: input.rootKeys.map((k) => k.keyId), threshold: input.rootThreshold },
      release: { keyIds: input.releaseKeys.map((k) => k.keyId), threshold: input.releaseThreshold },
      ...(input.director ? { director: { keyIds: input.director.keys.map((k) => k.keyId), threshold: input.director.threshold } } : {}),
    },
    revokedKeyIds: input.revokedKeyIds ?? [],
  };
}

export const signRoot = (root: RootDocument, signers: readonly SigningKey[]): Envelope<RootDocument> => signEnvelope(root, signers);

function assertWellFormed(root: RootDocument): void {
  const roles = [root.roles?.root, root.roles?.release, ...(root.roles?.director ? [root.roles.director] : [])];
  if (root.type !== 'root' || !Number.isInteger(root.version) || root.version < 1) throw new TrustError('malformed', 'not a root document');
  for (const role of roles) {
    if (!role || !Number.isInteger(role.threshold) || role.threshold < 1 || role.threshold > role.keyIds.length) {
      throw new TrustError('malformed', 'root role threshold must be between 1 and the number of its keys');
    }
  }
}

/** Verifies a self-signed root (the one pinned at enrolment). */
export function verifyInitialRoot(envelope: Envelope<RootDocument>, now: Date): RootDocument {
  const root = envelope.signed;
  assertWellFormed(root);
  verifyThreshold(envelope, root.roles.root, root.keys, root.revokedKeyIds);
  assertNotExpired(root.expires, now, 'root');
  return root;
}

/**
 * Moves from `trusted` to the next root: exactly one version up, signed by a threshold of the trusted
 * root's keys (so a stolen minority cannot rotate) and of its own keys (so it is usable), not expired.
 */
export function rotateRoot(trusted: RootDocument, envelope: Envelope<RootDocument>, now: Date): RootDocument {
  const next = verifyRootStep(trusted, envelope);
  assertNotExpired(next.expires, now, 'root');
  return next;
}

/**
 * The signature half of `rotateRoot`, without the expiry: a node walking several versions accepts an
 * expired intermediate root (as TUF does) and judges only the newest one's expiry.
 */
export function verifyRootStep(trusted: RootDocument, envelope: Envelope<RootDocument>): RootDocument {
  const next = envelope.signed;
  assertWellFormed(next);
  if (next.version !== trusted.version + 1) {
    throw new TrustError('bad-rotation', `root version ${next.version} does not follow ${trusted.version}`);
  }
  try {
    verifyThreshold(envelope, trusted.roles.root, trusted.keys, trusted.revokedKeyIds);
  } catch (error) {
    throw new TrustError('bad-rotation', 'new root is not signed by the threshold of the current root', { cause: error });
  }
  try {
    verifyThreshold(envelope, next.roles.root, next.keys, next.revokedKeyIds);
  } catch (error) {
    throw new TrustError('bad-rotation', 'new root is not signed by its own threshold', { cause: error });
  }
  const unrevoked = trusted.revokedKeyIds.filter((id) => !next.revokedKeyIds.includes(id));
  if (unrevoked.length > 0) throw new TrustError('bad-rotation', `root version ${next.version} un-revokes key(s) ${unrevoked.join(', ')}`);
  return next;
}

/** True once the root's expiry has passed (or it has none that parses): it then vouches for no new update. */
export function isRootExpired(root: RootDocument, now: Date): boolean {
  const at = Date.parse(root.expires);
  return !Number.isFinite(at) || at <= now.getTime();
}

/** The role that signs desired states: the director when the root has one, else the release role. */
export const desiredStateRole = (root: RootDocument): Role => root.roles.director ?? root.roles.release;

/**
 * The root's fingerprint: sha256 (hex) of the canonical JSON of its signed part. Operators pin it in an
 * agent's config (`trustRootSha256`) so the first root a node trusts cannot be swapped on the way.
 */
export const rootFingerprint = (root: RootDocument): string => createHash('sha256').update(canonicalJson(root)).digest('hex');
