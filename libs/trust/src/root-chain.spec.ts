import { describe, expect, it } from '@jest/globals';
import {
  buildRoot,
  type Envelope,
  generateSigningKey,
  isRootExpired,
  type RootDocument,
  type SigningKey,
  signDesiredState,
  signRoot,
  TrustError,
  verifyDesiredState,
  verifyInitialRoot,
  walkRootChain,
} from './index.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const LATER = new Date('2027-12-01T12:00:00Z');

interface Version {
  readonly root: RootDocument;
  readonly rootKeys: SigningKey[];
  readonly releaseKeys: SigningKey[];
}

function first(): Version {
  const rootKeys = [generateSigningKey(), generateSigningKey(), generateSigningKey()];
  const releaseKeys = [generateSigningKey(), generateSigningKey(), generateSigningKey()];
  return { root: buildRoot({ version: 1, expires: LATER, rootKeys, rootThreshold: 2, releaseKeys, releaseThreshold: 2 }), rootKeys, releaseKeys };
}

/** The next version with fresh release keys (and optionally fresh root keys, revocations, expiry). */
function next(prev: Version, options: { rootKeys?: SigningKey[]; revoke?: string[]; expires?: Date } = {}): Version {
  const rootKeys = options.rootKeys ?? prev.rootKeys;
  const releaseKeys = [generateSigningKey(), generateSigningKey(), generateSigningKey()];
  const root = buildRoot({
    version: prev.root.version + 1,
    expires: options.expires ?? LATER,
    rootKeys,
    rootThreshold: 2,
    releaseKeys,
    releaseThreshold: 2,
    revokedKeyIds: [...prev.root.revokedKeyIds, ...(options.revoke ?? [])],
  });
  return { root, rootKeys, releaseKeys };
}

const offered = (...envelopes: Envelope<RootDocument>[]) => new Map(envelopes.map((e) => [e.signed.version, e]));
/** Signed by two old root keys and two of its own: what rotateRoot requires. */
const signedStep = (prev: Version, v: Version) => signRoot(v.root, [...new Map([...prev.rootKeys.slice(0, 2), ...v.rootKeys.slice(0, 2)].map((k) => [k.keyId, k])).values()]);

const desired = (keys: SigningKey[]) =>
  signDesiredState(
    { type: 'desired-state', nodeId: 'n1', deploymentId: 'd1', manifest: { signed: {} as never, signatures: [] }, issued: NOW.toISOString(), expires: LATER.toISOString() } as never,
    keys,
  );

describe('walking the root chain', () => {
  it('walks v1 → v2 → v3, each signed by the old and the new root threshold, and trusts v3’s release keys', () => {
    const v1 = first();
    const v2 = next(v1, { rootKeys: [generateSigningKey(), generateSigningKey(), generateSigningKey()] });
    const v3 = next(v2);
    const walk = walkRootChain(verifyInitialRoot(signRoot(v1.root, v1.rootKeys), NOW), offered(signedStep(v2, v3), signedStep(v1, v2)));
    expect(walk.refused).toBeUndefined();
    expect(walk.verified.map((e) => e.signed.version)).toEqual([2, 3]);
    const trusted = walk.verified.at(-1)?.signed as RootDocument;
    expect(verifyDesiredState(desired(v3.releaseKeys.slice(0, 2)), trusted, { nodeId: 'n1', now: NOW }).deploymentId).toBe('d1');
  });

  it('names the missing version even with 200,000 bogus versions offered (no RangeError from spreading them)', () => {
    const v1 = first();
    const bogus = new Map<number, Envelope<RootDocument>>();
    const template = signRoot(next(v1).root, v1.rootKeys);
    for (let version = 3; version < 200_003; version++) bogus.set(version, template);
    const walk = walkRootChain(v1.root, bogus);
    expect(walk.verified).toEqual([]);
    expect(walk.refused?.message).toMatch(/version 2 is missing; cannot move to 200002/);
  });

  it('does not skip a version: v3 without v2 is not trusted', () => {
    const v1 = first();
    const v2 = next(v1);
    const v3 = next(v2);
    const walk = walkRootChain(v1.root, offered(signedStep(v2, v3)));
    expect(walk.verified).toEqual([]);
    expect(walk.refused?.reason).toBe('bad-rotation');
    expect(walk.refused?.message).toMatch(/version 2 is missing/);
  });

  it('refuses a root signed by one old root key when the threshold is two (a stolen minority cannot rotate)', () => {
    const v1 = first();
    const thief = [generateSigningKey(), generateSigningKey(), generateSigningKey()];
    const v2 = next(v1, { rootKeys: thief });
    const walk = walkRootChain(v1.root, offered(signRoot(v2.root, [v1.rootKeys[0] as SigningKey, ...thief])));
    expect(walk.verified).toEqual([]);
    expect(walk.refused?.reason).toBe('bad-rotation');
    expect((walk.refused?.cause as TrustError).reason).toBe('threshold');
  });

  it('refuses a root its own new keys did not sign to threshold', () => {
    const v1 = first();
    const v2 = next(v1, { rootKeys: [generateSigningKey(), generateSigningKey(), generateSigningKey()] });
    const walk = walkRootChain(v1.root, offered(signRoot(v2.root, [...v1.rootKeys.slice(0, 2), v2.rootKeys[0] as SigningKey])));
    expect(walk.refused?.message).toMatch(/its own threshold/);
  });

  it('stops at the last good version: v2 is trusted when v3 does not verify', () => {
    const v1 = first();
    const v2 = next(v1);
    const v3 = next(v2);
    const walk = walkRootChain(v1.root, offered(signedStep(v1, v2), signRoot(v3.root, v2.rootKeys.slice(0, 1))));
    expect(walk.verified.map((e) => e.signed.version)).toEqual([2]);
    expect(walk.refused?.reason).toBe('bad-rotation');
  });

  it('walks through an expired intermediate root; the newest root’s expiry is the caller’s to judge', () => {
    const v1 = first();
    const v2 = next(v1, { expires: new Date('2026-06-01T00:00:00Z') });
    const v3 = next(v2, { expires: new Date('2026-11-30T00:00:00Z') });
    const walk = walkRootChain(v1.root, offered(signedStep(v1, v2), signedStep(v2, v3)));
    expect(walk.verified.map((e) => e.signed.version)).toEqual([2, 3]);
    const newest = walk.verified.at(-1)?.signed as RootDocument;
    expect(isRootExpired(newest, NOW)).toBe(true);
    expect(isRootExpired(v1.root, NOW)).toBe(false);
  });

  it('after a revocation the revoked release key no longer counts, and a later root cannot sign with a revoked root key', () => {
    const v1 = first();
    const leaked = v1.releaseKeys[0] as SigningKey;
    const v2 = next(v1, { revoke: [leaked.keyId] });
    const walk = walkRootChain(v1.root, offered(signedStep(v1, v2)));
    const trusted = walk.verified.at(-1)?.signed as RootDocument;
    // Even listed in the role again, a revoked key is ignored: one genuine signature is below the threshold.
    const relisted = { ...trusted, roles: { ...trusted.roles, release: { keyIds: [...trusted.roles.release.keyIds, leaked.keyId], threshold: 2 } }, keys: { ...trusted.keys, [leaked.keyId]: leaked.publicKey } };
    expect(() => verifyDesiredState(desired([leaked, v2.releaseKeys[0] as SigningKey]), relisted, { nodeId: 'n1', now: NOW })).toThrow(TrustError);
    expect(() => verifyDesiredState(desired([leaked]), trusted, { nodeId: 'n1', now: NOW })).toThrow(/threshold|revoked|required/);

    const stolenRoot = v2.rootKeys[0] as SigningKey;
    const v3 = next(v2, { revoke: [stolenRoot.keyId], rootKeys: [v2.rootKeys[1] as SigningKey, v2.rootKeys[2] as SigningKey, generateSigningKey()] });
    const v4 = next(v3);
    // v4 signed by the revoked root key and one good one: below the threshold of v3.
    const forged = signRoot(v4.root, [stolenRoot, v3.rootKeys[0] as SigningKey]);
    const onward = walkRootChain(trusted, offered(signRoot(v3.root, [...v2.rootKeys.slice(1, 3), v3.rootKeys[2] as SigningKey]), forged));
    expect(onward.verified.map((e) => e.signed.version)).toEqual([3]);
    expect(onward.refused?.reason).toBe('bad-rotation');
  });

  it('refuses a root that drops an earlier revocation', () => {
    const v1 = first();
    const v2 = next(v1, { revoke: [v1.releaseKeys[0]?.keyId as string] });
    const v3 = { ...next(v2), root: { ...next(v2).root, revokedKeyIds: [] } };
    const walk = walkRootChain(v1.root, offered(signedStep(v1, v2), signRoot(v3.root, v2.rootKeys.slice(0, 2))));
    expect(walk.verified.map((e) => e.signed.version)).toEqual([2]);
    expect(walk.refused?.message).toMatch(/un-revokes/);
  });
});
