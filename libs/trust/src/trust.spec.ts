import { describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import {
  buildRoot,
  canonicalJson,
  type DesiredState,
  type Envelope,
  exportPrivateKey,
  generateSigningKey,
  importPrivateKey,
  type ModelManifest,
  rotateRoot,
  signDesiredState,
  signManifest,
  signRoot,
  TrustError,
  verifyArtifactStream,
  verifyDesiredState,
  verifyInitialRoot,
  verifyManifest,
} from './index.js';

const NOW = new Date('2026-11-28T12:00:00Z');
const LATER = new Date('2027-11-28T12:00:00Z');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A 2-of-3 root and 2-of-3 release keys, as an operator would set up. */
function setUp() {
  const rootKeys = [generateSigningKey(), generateSigningKey(), generateSigningKey()];
  const releaseKeys = [generateSigningKey(), generateSigningKey(), generateSigningKey()];
  const root = buildRoot({ version: 1, expires: LATER, rootKeys, rootThreshold: 2, releaseKeys, releaseThreshold: 2 });
  return { rootKeys, releaseKeys, root, rootEnvelope: signRoot(root, rootKeys.slice(0, 2)) };
}

function manifestFor(artifact: Buffer, overrides: Partial<ModelManifest> = {}): ModelManifest {
  return {
    type: 'model-manifest',
    name: 'digits',
    version: '1.0.0',
    sequence: 10,
    variant: 'fp32',
    format: 'onnx',
    engine: 'onnxruntime',
    sha256: sha256(artifact),
    size: artifact.length,
    inputSpec: { shape: [1, 28, 28, 1] },
    outputSpec: { shape: [1, 10] },
    preprocessing: { scale: 1 / 255 },
    labels: ['0', '1'],
    selfTest: { input: [0, 1], expectedOutput: [0.1, 0.9], tolerance: 1e-4 },
    created: NOW.toISOString(),
    expires: LATER.toISOString(),
    ...overrides,
  };
}

function expectRefused(fn: () => unknown, reason: TrustError['reason']): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TrustError);
    expect((error as TrustError).reason).toBe(reason);
    return;
  }
  throw new Error(`expected a TrustError '${reason}', nothing was thrown`);
}

async function expectStreamRefused(promise: Promise<unknown>, reason: TrustError['reason']): Promise<void> {
  await expect(promise).rejects.toMatchObject({ name: 'TrustError', reason });
}

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null, e: undefined } })).toBe('{"a":{"c":null,"d":[1,"x"]},"b":1}');
  });
  it('refuses non-finite numbers', () => {
    expectRefused(() => canonicalJson({ x: Number.NaN }), 'malformed');
  });
});

describe('keys', () => {
  it('round-trip through PEM files with the same key id', () => {
    const key = generateSigningKey();
    expect(importPrivateKey(exportPrivateKey(key)).keyId).toBe(key.keyId);
  });
});

describe('happy path', () => {
  it('verifies the pinned root, a manifest, a desired state and the artifact', async () => {
    const { rootEnvelope, releaseKeys } = setUp();
    const root = verifyInitialRoot(rootEnvelope, NOW);
    const artifact = randomBytes(100_000);
    const manifest = signManifest(manifestFor(artifact), releaseKeys.slice(1));
    expect(verifyManifest(manifest, root, { now: NOW, installedSequence: 9 }).version).toBe('1.0.0');
    const state = signDesiredState(
      { type: 'desired-state', nodeId: 'node-a', deploymentId: 'dep-1', manifest, issued: NOW.toISOString(), expires: LATER.toISOString() },
      releaseKeys.slice(0, 2),
    );
    expect(verifyDesiredState(state, root, { nodeId: 'node-a', now: NOW }).deploymentId).toBe('dep-1');
    const staged: Buffer[] = [];
    await verifyArtifactStream(Readable.from([artifact.subarray(0, 50_000), artifact.subarray(50_000)]), manifest.signed, {
      stallTimeoutMs: 1000,
      onChunk: (c) => void staged.push(c),
    });
    expect(Buffer.concat(staged).equals(artifact)).toBe(true);
  });
});

describe('attacks, each refused', () => {
  const artifact = randomBytes(10_000);

  it('arbitrary software: a manifest whose signature does not verify', () => {
    const { root, releaseKeys } = setUp();
    const signed = signManifest(manifestFor(artifact), releaseKeys.slice(0, 2));
    const tampered: Envelope<ModelManifest> = { ...signed, signed: { ...signed.signed, sha256: sha256(Buffer.from('evil')) } };
    expectRefused(() => verifyManifest(tampered, root, { now: NOW }), 'bad-signature');
  });

  it('arbitrary software: an artifact whose hash does not match the manifest', async () => {
    const evil = Buffer.from(artifact);
    evil[0] = (evil[0] ?? 0) ^ 0xff;
    await expectStreamRefused(verifyArtifactStream(Readable.from([evil]), manifestFor(artifact), { stallTimeoutMs: 1000 }), 'hash-mismatch');
  });

  it('wrong software: a desired state signed for another node', () => {
    const { root, releaseKeys } = setUp();
    const manifest = signManifest(manifestFor(artifact), releaseKeys.slice(0, 2));
    const state: DesiredState = { type: 'desired-state', nodeId: 'node-b', deploymentId: 'd', manifest, issued: NOW.toISOString(), expires: LATER.toISOString() };
    expectRefused(() => verifyDesiredState(signDesiredState(state, releaseKeys.slice(0, 2)), root, { nodeId: 'node-a', now: NOW }), 'wrong-target');
  });

  it('rollback: a sequence not above the installed one', () => {
    const { root, releaseKeys } = setUp();
    const old = signManifest(manifestFor(artifact, { sequence: 5, version: '0.9.0' }), releaseKeys.slice(0, 2));
    expectRefused(() => verifyManifest(old, root, { now: NOW, installedSequence: 10 }), 'rollback');
    expectRefused(() => verifyManifest(old, root, { now: NOW, installedSequence: 5 }), 'rollback');
  });

  it('fast-forward: a sequence inflated by a revoked key does not count', () => {
    const { rootKeys, releaseKeys } = setUp();
    const compromised = releaseKeys[0]!;
    // Root v2 revokes the compromised key; releases keep a 2-of-3 threshold with a replacement key.
    const replacement = generateSigningKey();
    const v2 = buildRoot({
      version: 2,
      expires: LATER,
      rootKeys,
      rootThreshold: 2,
      releaseKeys: [compromised, releaseKeys[1]!, replacement],
      releaseThreshold: 2,
      revokedKeyIds: [compromised.keyId],
    });
    const inflated = signManifest(manifestFor(artifact, { sequence: Number.MAX_SAFE_INTEGER }), [compromised, releaseKeys[1]!]);
    expectRefused(() => verifyManifest(inflated, v2, { now: NOW, installedSequence: 10 }), 'revoked-key');
    // The honest next release still verifies: the node never recorded the inflated sequence.
    const honest = signManifest(manifestFor(artifact, { sequence: 11 }), [releaseKeys[1]!, replacement]);
    expect(verifyManifest(honest, v2, { now: NOW, installedSequence: 10 }).sequence).toBe(11);
  });

  it('indefinite freeze: an expired manifest', () => {
    const { root, releaseKeys } = setUp();
    const stale = signManifest(manifestFor(artifact, { expires: '2026-11-01T00:00:00Z' }), releaseKeys.slice(0, 2));
    expectRefused(() => verifyManifest(stale, root, { now: NOW }), 'expired');
  });

  it('indefinite freeze: an expired desired state (a replayed old command)', () => {
    const { root, releaseKeys } = setUp();
    const manifest = signManifest(manifestFor(artifact), releaseKeys.slice(0, 2));
    const state = signDesiredState(
      { type: 'desired-state', nodeId: 'node-a', deploymentId: 'd', manifest, issued: '2026-11-01T00:00:00Z', expires: '2026-11-02T00:00:00Z' },
      releaseKeys.slice(0, 2),
    );
    expectRefused(() => verifyDesiredState(state, root, { nodeId: 'node-a', now: NOW }), 'expired');
  });

  it('endless data: more bytes than the manifest names, cut off at the bound', async () => {
    let delivered = 0;
    await expectStreamRefused(
      verifyArtifactStream(Readable.from([artifact, randomBytes(1_000_000)]), manifestFor(artifact), {
        stallTimeoutMs: 1000,
        onChunk: (c) => void (delivered += c.length),
      }),
      'size-exceeded',
    );
    expect(delivered).toBeLessThanOrEqual(artifact.length);
  });

  it("mix-and-match: a manifest with another version's artifact", async () => {
    const { root, releaseKeys } = setUp();
    const v1 = randomBytes(10_000);
    const v2 = randomBytes(10_000);
    const m2 = verifyManifest(signManifest(manifestFor(v2, { version: '2.0.0', sequence: 11 }), releaseKeys.slice(0, 2)), root, { now: NOW });
    await expectStreamRefused(verifyArtifactStream(Readable.from([v1]), m2, { stallTimeoutMs: 1000 }), 'hash-mismatch');
  });

  it('fewer signatures than the threshold', () => {
    const { root, releaseKeys } = setUp();
    const once = signManifest(manifestFor(artifact), [releaseKeys[0]!]);
    expectRefused(() => verifyManifest(once, root, { now: NOW }), 'threshold');
    // The same key twice is still one key.
    const twice: Envelope<ModelManifest> = { ...once, signatures: [once.signatures[0]!, once.signatures[0]!] };
    expectRefused(() => verifyManifest(twice, root, { now: NOW }), 'threshold');
    // A key from another role (root) does not count towards the release threshold.
    const { rootKeys } = setUp();
    expectRefused(() => verifyManifest(signManifest(manifestFor(artifact), [releaseKeys[0]!, rootKeys[0]!]), root, { now: NOW }), 'threshold');
  });

  it('a root rotation not signed by the old threshold', () => {
    const { root, rootKeys, releaseKeys } = setUp();
    const attackerKeys = [generateSigningKey(), generateSigningKey()];
    const next = buildRoot({ version: 2, expires: LATER, rootKeys: attackerKeys, rootThreshold: 2, releaseKeys: attackerKeys, releaseThreshold: 1 });
    // One stolen old root key plus the attacker's own keys: below the old 2-of-3.
    expectRefused(() => rotateRoot(root, signRoot(next, [rootKeys[0]!, ...attackerKeys]), NOW), 'bad-rotation');
    // A legitimate rotation: two old root keys and the new threshold.
    const newRootKeys = [generateSigningKey(), generateSigningKey()];
    const legit = buildRoot({ version: 2, expires: LATER, rootKeys: newRootKeys, rootThreshold: 2, releaseKeys, releaseThreshold: 2 });
    expect(rotateRoot(root, signRoot(legit, [rootKeys[0]!, rootKeys[1]!, ...newRootKeys]), NOW).version).toBe(2);
    // ...but not without the new root's own threshold, nor skipping a version.
    expectRefused(() => rotateRoot(root, signRoot(legit, [rootKeys[0]!, rootKeys[1]!]), NOW), 'bad-rotation');
    const skip = buildRoot({ version: 3, expires: LATER, rootKeys: newRootKeys, rootThreshold: 2, releaseKeys, releaseThreshold: 2 });
    expectRefused(() => rotateRoot(root, signRoot(skip, [rootKeys[0]!, rootKeys[1]!, ...newRootKeys]), NOW), 'bad-rotation');
  });

  it('slow retrieval: a stream that stalls past the timeout', async () => {
    const source = new PassThrough();
    source.write(artifact.subarray(0, 100)); // then nothing more
    await expectStreamRefused(verifyArtifactStream(source, manifestFor(artifact), { stallTimeoutMs: 50 }), 'stalled');
    expect(source.destroyed).toBe(true);
  });

  it('a truncated artifact', async () => {
    await expectStreamRefused(verifyArtifactStream(Readable.from([artifact.subarray(0, 10)]), manifestFor(artifact), { stallTimeoutMs: 1000 }), 'size-mismatch');
  });

  it('an expired root at enrolment', () => {
    const { root, rootKeys } = setUp();
    expectRefused(() => verifyInitialRoot(signRoot(root, rootKeys.slice(0, 2)), new Date('2028-01-01T00:00:00Z')), 'expired');
  });
});
