import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DesiredStateMessage, envelopeFields } from '#protocol';
import { buildRoot, type Envelope, generateSigningKey, type ModelManifest, type RootDocument, type SigningKey, signDesiredState, signManifest, signRoot, TrustError } from '#trust';
import { DesiredStateRefused, verifyDesired } from '../update/desired.js';
import { MAX_ROOTS_AHEAD, TrustedRoot } from './trusted-root.js';

const DAY = 86_400_000;
const keys = (n: number) => Array.from({ length: n }, generateSigningKey);

interface Version {
  readonly envelope: Envelope<RootDocument>;
  readonly rootKeys: SigningKey[];
  readonly releaseKeys: SigningKey[];
}

function rootVersion(version: number, prev: Version | undefined, options: { expires?: Date; revoke?: string[]; releaseKeys?: SigningKey[] } = {}): Version {
  const rootKeys = prev?.rootKeys ?? keys(3);
  const releaseKeys = options.releaseKeys ?? keys(3);
  const root = buildRoot({
    version,
    expires: options.expires ?? new Date(Date.now() + 30 * DAY),
    rootKeys,
    rootThreshold: 2,
    releaseKeys,
    releaseThreshold: 2,
    revokedKeyIds: [...(prev?.envelope.signed.revokedKeyIds ?? []), ...(options.revoke ?? [])],
  });
  return { envelope: signRoot(root, rootKeys.slice(0, 2)), rootKeys, releaseKeys };
}

const manifest: ModelManifest = {
  type: 'model-manifest', name: 'm', version: '1.0.0', sequence: 1, variant: 'fp32', format: 'onnx', engine: 'onnxruntime', sha256: 'a'.repeat(64), size: 10,
  inputSpec: {}, outputSpec: {}, preprocessing: {}, labels: [], selfTest: { input: [], expectedOutput: [], tolerance: 0 },
  created: new Date().toISOString(), expires: new Date(Date.now() + DAY).toISOString(),
};

function desiredMessage(signers: SigningKey[]): DesiredStateMessage {
  const m = signManifest(manifest, signers);
  const desired = signDesiredState({ type: 'desired-state', nodeId: 'n1', deploymentId: 'd1', manifest: m, issued: new Date().toISOString(), expires: new Date(Date.now() + DAY).toISOString() }, signers);
  return { ...envelopeFields(), desired: { signed: { ...desired.signed }, signatures: [...desired.signatures] }, artifact: { sha256: manifest.sha256, size: manifest.size, chunkSize: 1024, chunkCount: 1 } };
}

describe('TrustedRoot: the node walks to newer roots and keeps them', () => {
  let dir: string;
  const logs: { level: string; message: string }[] = [];
  const log = (level: string, message: string) => void logs.push({ level, message });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-trust-'));
    logs.length = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('stores each verified root before trusting it, and trusts the stored chain after a restart', async () => {
    const v1 = rootVersion(1, undefined);
    const v2 = rootVersion(2, v1);
    const v3 = rootVersion(3, v2);
    const trust = await TrustedRoot.open(dir, v1.envelope, log);
    let advanced = 0;
    trust.onAdvanced(() => {
      advanced++;
    });
    trust.offer(v3.envelope); // out of order: waits for v2
    await trust.settled();
    expect(trust.current.version).toBe(1);
    trust.offer(v2.envelope);
    await trust.settled();
    expect(trust.current.version).toBe(3);
    expect(advanced).toBe(1);
    expect((await readdir(join(dir, 'trust', 'roots'))).sort()).toEqual(['2.json', '3.json']);

    const reopened = await TrustedRoot.open(dir, v1.envelope, log);
    expect(reopened.current.version).toBe(3);
    expect(verifyDesired(desiredMessage(v3.releaseKeys.slice(0, 2)), reopened.current, 'n1', { installed: {} }).state.deploymentId).toBe('d1');
  });

  it('keeps no more than MAX_ROOTS_AHEAD offered roots and drops refused ones: a flood of bogus versions neither fills memory nor stops the walk', async () => {
    const v1 = rootVersion(1, undefined);
    const v2 = rootVersion(2, v1);
    const trust = await TrustedRoot.open(dir, v1.envelope, log);
    const bogus = rootVersion(2, undefined).envelope;
    for (let version = 2; version < 100_002; version++) trust.offer({ ...bogus, signed: { ...bogus.signed, version } });
    await trust.settled();
    expect(trust.current.version).toBe(1);
    expect(trust.pendingCount).toBeLessThanOrEqual(MAX_ROOTS_AHEAD - 1);
    expect(logs.filter((l) => l.message === 'ignored a root too far ahead of the trusted one')).toHaveLength(1);
    trust.offer(v2.envelope);
    await trust.settled();
    expect(trust.current.version).toBe(2);
  });

  it('refuses a root signed by one root key of two needed, and a tampered stored root is not trusted at start', async () => {
    const v1 = rootVersion(1, undefined);
    const v2 = rootVersion(2, v1);
    const trust = await TrustedRoot.open(dir, v1.envelope, log);
    trust.offer(signRoot(v2.envelope.signed, v1.rootKeys.slice(0, 1)));
    await trust.settled();
    expect(trust.current.version).toBe(1);
    expect(logs.some((l) => l.message === 'refused a root')).toBe(true);

    trust.offer(v2.envelope);
    await trust.settled();
    const path = join(dir, 'trust', 'roots', '2.json');
    const stored = JSON.parse(await readFile(path, 'utf8')) as Envelope<RootDocument>;
    await writeFile(path, JSON.stringify({ ...stored, signed: { ...stored.signed, roles: { ...stored.signed.roles, release: { keyIds: [generateSigningKey().keyId], threshold: 1 } } } }));
    const reopened = await TrustedRoot.open(dir, v1.envelope, log);
    expect(reopened.current.version).toBe(1);
    expect(logs.some((l) => l.level === 'error' && /stored root does not verify/.test(l.message))).toBe(true);
  });

  it('under an expired root: refuses new desired states, says so at error, and reports expired', async () => {
    const v1 = rootVersion(1, undefined, { expires: new Date(Date.now() + 30 * DAY) });
    const trust = await TrustedRoot.open(dir, rootVersion(1, v1, { expires: new Date(Date.now() - 1000), releaseKeys: v1.releaseKeys }).envelope, log);
    expect(trust.expired).toBe(true);
    expect(logs.some((l) => l.level === 'error' && /trusted root has expired/.test(l.message))).toBe(true);
    const refused = (() => {
      try {
        verifyDesired(desiredMessage(v1.releaseKeys.slice(0, 2)), trust.current, 'n1', { installed: {} });
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(DesiredStateRefused);
    expect((refused as DesiredStateRefused).cause).toBeInstanceOf(TrustError);
    expect((refused as DesiredStateRefused).cause.reason).toBe('expired');
  });

  it('keeps trusting an installed model after a rotation, but not one signed by keys revoked since', async () => {
    const v1 = rootVersion(1, undefined);
    const v2 = rootVersion(2, v1); // rotation: all release keys replaced
    const installed = signManifest(manifest, v1.releaseKeys.slice(0, 2));
    const trust = await TrustedRoot.open(dir, v1.envelope, log);
    trust.offer(v2.envelope);
    await trust.settled();
    expect(() => trust.verifyInstalled(installed)).not.toThrow();

    const v3 = rootVersion(3, v2, { revoke: [v1.releaseKeys[0]?.keyId as string] });
    trust.offer(v3.envelope);
    await trust.settled();
    expect(() => trust.verifyInstalled(installed)).toThrow(TrustError);
    expect(() => trust.verifyInstalled(signManifest(manifest, v3.releaseKeys.slice(0, 2)))).not.toThrow();
  });
});
