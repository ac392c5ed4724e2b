import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Envelope, exportPublicKey, generateSigningKey, importPrivateKey, importPublicKey, type ModelManifest, rotateRoot, type RootDocument, signEnvelope, signManifest, TrustError, verifyInitialRoot, verifyManifest } from '#trust';
import type { AppConfig } from '../../apps/control-plane/src/config/config.js';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { SigningService } from '../../apps/control-plane/src/keys/signing.service.js';

const KEYS_CLI = resolve('dist/apps/control-plane/src/cli/keys.js');
const keysCli = (...args: string[]) =>
  promisify(execFile)(process.execPath, [KEYS_CLI, ...args]).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
const pems = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith('.pem'));
/** A control plane's signing service on a key directory, as it boots (no HTTP, no broker needed). */
const bootSigning = (keysDir: string) => new SigningService({ trust: { keysDir, reloadMs: 60_000 } } as AppConfig).onModuleInit();

const manifest = (sequence: number): ModelManifest => ({
  type: 'model-manifest',
  name: 'digits',
  version: `1.0.${sequence}`,
  sequence,
  variant: 'fp32',
  format: 'onnx',
  engine: 'onnxruntime',
  sha256: 'a'.repeat(64),
  size: 1,
  inputSpec: {},
  outputSpec: {},
  preprocessing: {},
  labels: [],
  selfTest: { input: [], expectedOutput: [], tolerance: 0 },
  created: new Date().toISOString(),
  expires: new Date(Date.now() + 86_400_000).toISOString(),
});

describe('operator key store (files on disk)', () => {
  let dir: string;
  let store: KeyStore;
  const options = { rootKeys: 3, rootThreshold: 2, releaseKeys: 2, releaseThreshold: 1, expiresDays: 30 };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-keys-'));
    store = new KeyStore(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('init writes private keys 0600 in a 0700 directory and a self-signed root a node can pin', async () => {
    const root = await store.init(options);
    expect((await stat(join(dir, 'keys'))).mode & 0o777).toBe(0o700);
    const files = await readdir(join(dir, 'keys'));
    expect(files).toHaveLength(5);
    for (const f of files) expect((await stat(join(dir, 'keys', f))).mode & 0o777).toBe(0o600);
    const pinned = verifyInitialRoot(await store.currentRoot(), new Date());
    expect(pinned).toEqual(root);
    expect(await readFile(join(dir, 'root.json'), 'utf8')).not.toContain('PRIVATE KEY');
    await expect(store.init(options)).rejects.toThrow('a root already exists');
  });

  it('rotating the release keys yields a root the old one accepts; old release keys stop counting', async () => {
    const v1 = await store.init(options);
    const oldRelease = await store.releaseKeys();
    const v2 = await store.rotate('release', 30);
    // The rotated-out private keys are gone: kept, they would still sign for nodes not yet on v2.
    const left = await readdir(join(dir, 'keys'));
    for (const key of oldRelease) expect(left).not.toContain(`${key.keyId}.pem`);
    expect(left).toHaveLength(5);
    const history = JSON.parse(await readFile(join(dir, 'root-history', '2.json'), 'utf8')) as Envelope<RootDocument>;
    expect(rotateRoot(v1, history, new Date())).toEqual(v2);
    expect(() => verifyManifest(signManifest(manifest(1), oldRelease), v2, { now: new Date() })).toThrow(TrustError);
    expect(verifyManifest(signManifest(manifest(1), await store.releaseKeys()), v2, { now: new Date() }).sequence).toBe(1);
  });

  it('revoking a key lists it as revoked and replaces it; a node walks v1 → v3 through the history', async () => {
    const v1 = await store.init(options);
    const compromised = v1.roles.release.keyIds[0]!;
    const leaked = await store.loadKey(compromised);
    await store.rotate('root', 30);
    const v3 = await store.revoke(compromised, 30);
    expect(v3.revokedKeyIds).toEqual([compromised]);
    expect(v3.roles.release.keyIds).not.toContain(compromised);
    expect(v3.roles.release.keyIds).toHaveLength(2);

    let trusted = verifyInitialRoot(JSON.parse(await readFile(join(dir, 'root-history', '1.json'), 'utf8')) as Envelope<RootDocument>, new Date());
    for (const version of [2, 3]) {
      const next = JSON.parse(await readFile(join(dir, 'root-history', `${version}.json`), 'utf8')) as Envelope<RootDocument>;
      trusted = rotateRoot(trusted, next, new Date());
    }
    expect(trusted).toEqual(v3);
    expect(() => verifyManifest(signManifest(manifest(99), [leaked]), trusted, { now: new Date() })).toThrow(TrustError);
  });

  it('publisher-signed: the release keys never enter the key directory, not at init, rotation, revocation or proposal', async () => {
    const releaseDir = await mkdtemp(join(tmpdir(), 'ef-publisher-'));
    const rootDir = await mkdtemp(join(tmpdir(), 'ef-root-'));
    try {
      const v1 = await store.init({ ...options, releaseKeys: 3, releaseThreshold: 2, publisherSigned: { releaseDir, rootDir, directorKeys: 1, directorThreshold: 1 } });
      expect(v1.roles.director?.keyIds).toHaveLength(1);
      expect(await readdir(releaseDir)).toHaveLength(3);
      expect(await readdir(join(dir, 'keys'))).toHaveLength(1); // the director key; root keys in rootDir
      expect(await readdir(rootDir)).toHaveLength(3);
      const signing = await store.signingKeys();
      expect(signing.release).toEqual([]);
      expect(signing.director.map((k) => k.keyId)).toEqual(v1.roles.director?.keyIds);

      await expect(store.rotate('release', 30)).rejects.toThrow(/publishers hold the release keys/);
      const offlineRootKeys = await Promise.all(v1.roles.root.keyIds.slice(0, 2).map(async (id) => importPrivateKey(await readFile(join(rootDir, `${id}.pem`), 'utf8'))));
      await expect(store.revoke(v1.roles.release.keyIds[0] as string, 30)).rejects.toThrow(/root keys kept offline/);
      const revocation = await store.propose({ expiresDays: 30, revoke: [v1.roles.release.keyIds[0] as string] });
      const v2 = await store.publish(signEnvelope(revocation.signed, offlineRootKeys));
      expect(v2.roles.release.keyIds).toEqual(v1.roles.release.keyIds.slice(1));
      expect(v2.roles.director).toEqual(v1.roles.director);
      expect(await readdir(join(dir, 'keys'))).toHaveLength(1);

      const fresh = [generateSigningKey(), generateSigningKey(), generateSigningKey()];
      const proposal = await store.propose({ expiresDays: 30, releaseKeys: fresh.map((k) => importPublicKey(exportPublicKey(k))) });
      const v3 = await store.publish(signEnvelope(proposal.signed, offlineRootKeys));
      expect(v3.roles.release.keyIds).toEqual(fresh.map((k) => k.keyId));
      expect(await readdir(join(dir, 'keys'))).toHaveLength(1);
    } finally {
      await rm(releaseDir, { recursive: true, force: true });
      await rm(rootDir, { recursive: true, force: true });
    }
  });

  it('publisher-signed: `init` writes the root keys to --root-dir and refuses without it; with only KEYS_DIR an attacker cannot rotate the root to a release key of their own', async () => {
    const releaseDir = await mkdtemp(join(tmpdir(), 'ef-publisher-'));
    const rootDir = await mkdtemp(join(tmpdir(), 'ef-root-'));
    const attacker = await mkdtemp(join(tmpdir(), 'ef-attacker-'));
    try {
      const noRootDir = await keysCli('init', '--dir', dir, '--publisher-signed', '--release-dir', releaseDir);
      expect(noRootDir.code).toBe(64);
      expect(noRootDir.stderr).toMatch(/--publisher-signed needs --root-dir/);
      const inside = await keysCli('init', '--dir', dir, '--publisher-signed', '--release-dir', releaseDir, '--root-dir', join(dir, 'offline'));
      expect(inside.stderr).toMatch(/outside the control plane's key directory/);
      const init = await keysCli('init', '--dir', dir, '--publisher-signed', '--release-dir', releaseDir, '--root-dir', rootDir);
      expect(init.code).toBe(0);
      expect(init.stderr).toMatch(/root fingerprint \(agents' trustRootSha256\): [0-9a-f]{64}/);
      const v1 = (await store.currentRoot()).signed;
      expect((await pems(rootDir)).sort()).toEqual(v1.roles.root.keyIds.map((id) => `${id}.pem`).sort());
      expect(await pems(join(dir, 'keys'))).toEqual(v1.roles.director?.keyIds.map((id) => `${id}.pem`));

      // The attacker owns the control plane's host: KEYS_DIR and nothing else.
      expect((await keysCli('generate', '--out', join(attacker, 'att'))).code).toBe(0);
      const proposal = join(attacker, 'root-next.json');
      const proposed = await keysCli('root', 'propose', '--out', proposal, '--release-key', join(attacker, 'att.pub'), '--release-threshold', '1', '--dir', dir);
      expect(proposed.code).toBe(0);
      for (const file of await pems(join(dir, 'keys'))) expect((await keysCli('root', 'sign', proposal, '--key', join(dir, 'keys', file))).code).toBe(0);
      const published = await keysCli('root', 'publish', proposal, '--dir', dir);
      expect(published.code).toBe(1);
      expect(published.stderr).toMatch(/would be refused by nodes/);
      expect((await store.currentRoot()).signed.version).toBe(v1.version);
    } finally {
      await rm(releaseDir, { recursive: true, force: true });
      await rm(rootDir, { recursive: true, force: true });
      await rm(attacker, { recursive: true, force: true });
    }
  });

  it('a control plane refuses to start in publisher-signed mode with root keys in KEYS_DIR; in the default mode it starts', async () => {
    const releaseDir = await mkdtemp(join(tmpdir(), 'ef-publisher-'));
    const rootDir = await mkdtemp(join(tmpdir(), 'ef-root-'));
    try {
      const v1 = await store.init({ ...options, publisherSigned: { releaseDir, rootDir, directorKeys: 1, directorThreshold: 1 } });
      await expect(bootSigning(dir)).resolves.toBeUndefined();
      // An operator copies a root key back (or an older init put them there).
      const rootKeyId = v1.roles.root.keyIds[0] as string;
      await writeFile(join(dir, 'keys', `${rootKeyId}.pem`), await readFile(join(rootDir, `${rootKeyId}.pem`)), { mode: 0o600 });
      await expect(bootSigning(dir)).rejects.toThrow(new RegExp(`root private keys ${rootKeyId} are in .*Move them offline`));

      const defaultDir = await mkdtemp(join(tmpdir(), 'ef-keys-'));
      try {
        await new KeyStore(defaultDir).init(options);
        await expect(bootSigning(defaultDir)).resolves.toBeUndefined();
      } finally {
        await rm(defaultDir, { recursive: true, force: true });
      }
    } finally {
      await rm(releaseDir, { recursive: true, force: true });
      await rm(rootDir, { recursive: true, force: true });
    }
  });

  it('`keys revoke` without --key and unknown commands say what is wrong and what to do', async () => {
    await store.init(options);
    const revoke = await keysCli('revoke', '--dir', dir);
    expect(revoke.code).toBe(64);
    expect(revoke.stderr).toMatch(/revoke needs --key KEY_ID/);
    const unknown = await keysCli('rotat', '--dir', dir);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toMatch(/unknown command `rotat`[\s\S]*usage: keys.js init/);
  });
});
