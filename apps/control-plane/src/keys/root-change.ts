import type { RootDocument } from '#trust';

/** A key as a root lists it: its id and base64 SPKI public key (private parts may be elsewhere). */
export interface PublicKeyRef {
  readonly keyId: string;
  readonly publicKey: string;
}

/** What changes from one root version to the next. */
export interface RootChange {
  readonly expiresDays: number;
  /** Replaces the whole root role. */
  readonly rootKeys?: readonly PublicKeyRef[];
  readonly rootThreshold?: number;
  /** Replaces the whole release role. */
  readonly releaseKeys?: readonly PublicKeyRef[];
  readonly releaseThreshold?: number;
  /** Keys to revoke: dropped from their role and listed as revoked for good. */
  readonly revoke?: readonly string[];
  /** Fresh keys that take the revoked keys' places, in order, in the role each revoked key had. */
  readonly replacements?: readonly PublicKeyRef[];
}

export class RootChangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RootChangeError';
  }
}

/**
 * The root that follows `current` after `change` (unsigned): version + 1, the roles' keys replaced or
 * revoked, every earlier revocation kept, thresholds checked against the keys left.
 */
export function nextRoot(current: RootDocument, change: RootChange): RootDocument {
  const publicKeys = new Map(Object.entries(current.keys));
  for (const key of [...(change.rootKeys ?? []), ...(change.releaseKeys ?? []), ...(change.replacements ?? [])]) publicKeys.set(key.keyId, key.publicKey);
  const roles = {
    root: change.rootKeys?.map((k) => k.keyId) ?? [...current.roles.root.keyIds],
    release: change.releaseKeys?.map((k) => k.keyId) ?? [...current.roles.release.keyIds],
  };
  const replacements = [...(change.replacements ?? [])];
  for (const keyId of change.revoke ?? []) {
    const role = roles.root.includes(keyId) ? 'root' : roles.release.includes(keyId) ? 'release' : undefined;
    if (!role) throw new RootChangeError(`key ${keyId} is in no role of root version ${current.version}`);
    roles[role] = roles[role].filter((id) => id !== keyId);
    const replacement = replacements.shift();
    if (replacement) roles[role].push(replacement.keyId);
  }
  const thresholds = { root: change.rootThreshold ?? current.roles.root.threshold, release: change.releaseThreshold ?? current.roles.release.threshold };
  for (const role of ['root', 'release'] as const) {
    if (thresholds[role] < 1 || thresholds[role] > roles[role].length) {
      throw new RootChangeError(`the ${role} threshold ${thresholds[role]} needs at least that many ${role} keys; ${roles[role].length} are left`);
    }
  }
  const listed = new Set([...roles.root, ...roles.release]);
  return {
    type: 'root',
    version: current.version + 1,
    expires: new Date(Date.now() + change.expiresDays * 86_400_000).toISOString(),
    keys: Object.fromEntries([...publicKeys].filter(([id]) => listed.has(id))),
    roles: { root: { keyIds: roles.root, threshold: thresholds.root }, release: { keyIds: roles.release, threshold: thresholds.release } },
    revokedKeyIds: [...new Set([...current.revokedKeyIds, ...(change.revoke ?? [])])],
  };
}
