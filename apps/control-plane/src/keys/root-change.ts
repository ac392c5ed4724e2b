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

const ROLE_NAMES = ['root', 'release', 'director'] as const;
type RoleName = (typeof ROLE_NAMES)[number];

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
  const roles: Record<RoleName, string[]> = {
    root: change.rootKeys?.map((k) => k.keyId) ?? [...current.roles.root.keyIds],
    release: change.releaseKeys?.map((k) => k.keyId) ?? [...current.roles.release.keyIds],
    director: [...(current.roles.director?.keyIds ?? [])],
  };
  const replacements = [...(change.replacements ?? [])];
  for (const keyId of change.revoke ?? []) {
    const role = ROLE_NAMES.find((name) => roles[name].includes(keyId));
    if (!role) throw new RootChangeError(`key ${keyId} is in no role of root version ${current.version}`);
    roles[role] = roles[role].filter((id) => id !== keyId);
    const replacement = replacements.shift();
    if (replacement) roles[role].push(replacement.keyId);
  }
  const thresholds: Record<RoleName, number> = {
    root: change.rootThreshold ?? current.roles.root.threshold,
    release: change.releaseThreshold ?? current.roles.release.threshold,
    director: current.roles.director?.threshold ?? 0,
  };
  const present = ROLE_NAMES.filter((role) => role !== 'director' || current.roles.director);
  for (const role of present) {
    if (thresholds[role] < 1 || thresholds[role] > roles[role].length) {
      throw new RootChangeError(`the ${role} threshold ${thresholds[role]} needs at least that many ${role} keys; ${roles[role].length} are left`);
    }
  }
  const listed = new Set([...roles.root, ...roles.release, ...roles.director]);
  return {
    type: 'root',
    version: current.version + 1,
    expires: new Date(Date.now() + change.expiresDays * 86_400_000).toISOString(),
    keys: Object.fromEntries([...publicKeys].filter(([id]) => listed.has(id))),
    roles: {
      root: { keyIds: roles.root, threshold: thresholds.root },
      release: { keyIds: roles.release, threshold: thresholds.release },
      ...(current.roles.director ? { director: { keyIds: roles.director, threshold: thresholds.director } } : {}),
    },
    revokedKeyIds: [...new Set([...current.revokedKeyIds, ...(change.revoke ?? [])])],
  };
}
