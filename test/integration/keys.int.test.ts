import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Envelope, exportPublicKey, generateSigningKey, importPublicKey, type ModelManifest, rotateRoot, type RootDocument, signEnvelope, signManifest, TrustError, verifyInitialRoot, verifyManifest } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';

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
    try {
      const v1 = await store.init({ ...options, releaseKeys: 3, releaseThreshold: 2, publisherSigned: { releaseDir, directorKeys: 1, directorThreshold: 1 } });
      expect(v1.roles.director?.keyIds).toHaveLength(1);
      expect(await readdir(releaseDir)).toHaveLength(3);
      expect(await readdir(join(dir, 'keys'))).toHaveLength(4); // 3 root + 1 director
      const signing = await store.signingKeys();
      expect(signing.release).toEqual([]);
      expect(signing.director.map((k) => k.keyId)).toEqual(v1.roles.director?.keyIds);

      await expect(store.rotate('release', 30)).rejects.toThrow(/publishers hold the release keys/);
      const v2 = await store.revoke(v1.roles.release.keyIds[0] as string, 30);
      expect(v2.roles.release.keyIds).toEqual(v1.roles.release.keyIds.slice(1));
      expect(v2.roles.director).toEqual(v1.roles.director);
      expect(await readdir(join(dir, 'keys'))).toHaveLength(4);

      const fresh = [generateSigningKey(), generateSigningKey(), generateSigningKey()];
      const proposal = await store.propose({ expiresDays: 30, releaseKeys: fresh.map((k) => importPublicKey(exportPublicKey(k))) });
      const rootKeys = await Promise.all(v2.roles.root.keyIds.slice(0, 2).map((id) => store.loadKey(id)));
      const v3 = await store.publish(signEnvelope(proposal.signed, rootKeys));
      expect(v3.roles.release.keyIds).toEqual(fresh.map((k) => k.keyId));
      expect(await readdir(join(dir, 'keys'))).toHaveLength(4);
    } finally {
      await rm(releaseDir, { recursive: true, force: true });
    }
  });
});
