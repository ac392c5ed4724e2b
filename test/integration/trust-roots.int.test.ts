import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { fleetTopics, parseMessage } from '#protocol';
import { buildRoot, type Envelope, generateSigningKey, type RootDocument, signRoot, verifyThreshold } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { SigningService } from '../../apps/control-plane/src/keys/signing.service.js';
import { waitFor } from '../helpers/agent-process.js';
import { bearer, createApiKey, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const KEYS_CLI = resolve('dist/apps/control-plane/src/cli/keys.js');
const keysCli = (...args: string[]) =>
  promisify(execFile)(process.execPath, [KEYS_CLI, ...args]).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

/** The retained roots a fresh subscriber gets, by version. */
async function retainedRoots(url: string, namespace: string, count: number): Promise<Map<number, Envelope<RootDocument>>> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  const roots = new Map<number, Envelope<RootDocument>>();
  try {
    const all = new Promise<void>((done) => {
      client.on('message', (topic, payload) => {
        const parsed = parseMessage('trust-root', payload);
        const version = fleetTopics(namespace).parseTrustRoot(topic);
        if (parsed.ok && version === parsed.value.root.signed.version) roots.set(version, parsed.value.root as Envelope<RootDocument>);
        if (roots.size >= count) done();
      });
    });
    await client.subscribeAsync(fleetTopics(namespace).allTrustRoots, { qos: 1 });
    await Promise.race([all, new Promise((r) => setTimeout(r, 3000))]);
    return roots;
  } finally {
    await client.endAsync();
  }
}

describe('roots published and keys reloaded without a restart', () => {
  let broker: TestBroker;
  let t: TestApp;
  let keysDir: string;

  beforeAll(async () => {
    keysDir = await mkdtemp(join(tmpdir(), 'ef-keys-'));
    const init = await keysCli('init', '--dir', keysDir, '--expires-days', '30');
    expect(init.code).toBe(0);
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, KEYS_DIR: keysDir, TRUST_RELOAD_MS: '300000' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await broker?.stop();
    await rm(keysDir, { recursive: true, force: true });
  });

  it('`keys init` makes a 2-of-3 release role by default, and the control plane signs with two release keys', async () => {
    const root = (await new KeyStore(keysDir).currentRoot()).signed;
    expect(root.roles.release).toEqual({ keyIds: expect.any(Array), threshold: 2 });
    expect(root.roles.release.keyIds).toHaveLength(3);
    const signed = t.app.get(SigningService).desiredState({ type: 'desired-state', nodeId: 'n', deploymentId: 'd', issued: '', expires: '' } as never);
    expect(signed.signatures).toHaveLength(2);
    verifyThreshold(signed, root.roles.release, root.keys, root.revokedKeyIds);
  });

  it('serves each root version publicly, with problem+json for an unknown or malformed version', async () => {
    const res = await t.http().get('/v1/trust/root/1').expect(200);
    expect((res.body as Envelope<RootDocument>).signed.version).toBe(1);
    const missing = await t.http().get('/v1/trust/root/99').expect(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    await t.http().get('/v1/trust/root/one').expect(400);
  });

  it('every replica reloads on its own within TRUST_RELOAD_MS after `keys rotate`, without a restart', async () => {
    const replicas = await Promise.all(
      [0, 1].map(() => startTestApp({ MQTT_URL: broker.url, DATABASE_URL: t.config.database.url, KEYS_DIR: keysDir, MQTT_SHARED_GROUP: t.config.mqtt.sharedGroup, TRUST_RELOAD_MS: '300' })),
    );
    try {
      const before = (await new KeyStore(keysDir).currentRoot()).signed.version;
      const rotate = await keysCli('rotate', '--role', 'release', '--dir', keysDir);
      expect(rotate.code).toBe(0);
      for (const replica of replicas) {
        await waitFor(async () => replica.app.get(SigningService).root.signed.version, (v) => v === before + 1, 5_000, 'the replica on the new root');
      }
      const v = (await new KeyStore(keysDir).currentRoot()).signed;
      for (const replica of replicas) {
        const signed = replica.app.get(SigningService).desiredState({ type: 'desired-state', nodeId: 'n', deploymentId: 'd', issued: '', expires: '' } as never);
        verifyThreshold(signed, v.roles.release, v.keys, v.revokedKeyIds);
      }
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it('root keys kept offline: propose, sign with the CLI on two machines, publish; the control plane reloads on POST /v1/trust/reload and publishes the new root retained', async () => {
    const offlineDir = await mkdtemp(join(tmpdir(), 'ef-offline-'));
    try {
      // Move the root keys out of the key directory, as an operator keeping them offline would.
      const root = (await new KeyStore(keysDir).currentRoot()).signed;
      for (const id of root.roles.root.keyIds) {
        await writeFile(join(offlineDir, `${id}.pem`), await readFile(join(keysDir, 'keys', `${id}.pem`)));
        await rm(join(keysDir, 'keys', `${id}.pem`));
      }
      const rotate = await keysCli('rotate', '--role', 'release', '--dir', keysDir);
      expect(rotate.code).toBe(1);
      expect(rotate.stderr).toMatch(/root keys kept offline\?\): use `keys root propose`/);

      const proposal = join(offlineDir, 'root-next.json');
      expect((await keysCli('root', 'propose', '--out', proposal, '--rotate-release', '--dir', keysDir)).code).toBe(0);
      const unsigned = await keysCli('root', 'publish', proposal, '--dir', keysDir);
      expect(unsigned.code).toBe(1);
      expect(unsigned.stderr).toMatch(/would be refused by nodes/);
      const one = await keysCli('root', 'sign', proposal, '--key', join(offlineDir, `${root.roles.root.keyIds[0]}.pem`));
      expect(one.code).toBe(0);
      expect((await keysCli('root', 'publish', proposal, '--dir', keysDir)).stderr).toMatch(/threshold/);
      expect((await keysCli('root', 'sign', proposal, '--key', join(offlineDir, `${root.roles.root.keyIds[1]}.pem`))).code).toBe(0);
      const published = await keysCli('root', 'publish', proposal, '--dir', keysDir);
      expect(published.code).toBe(0);
      const next = root.version + 1;
      expect((await readdir(join(keysDir, 'root-history'))).sort()).toEqual(Array.from({ length: next }, (_, i) => `${i + 1}.json`));

      const viewer = await createApiKey(t, 'viewer');
      await t.http().post('/v1/trust/reload').set(bearer(viewer)).expect(403);
      const reloaded = await t.http().post('/v1/trust/reload').set(bearer(t.adminKey)).expect(200);
      expect(reloaded.body).toEqual({ rootVersion: next, changed: true });
      expect(t.app.get(SigningService).root.signed.version).toBe(next);
      const roots = await waitFor(() => retainedRoots(broker.url, t.config.mqtt.fleetNamespace, next), (r) => r.size === next, 10_000, 'every root retained');
      expect([...roots.keys()].sort()).toEqual(Array.from({ length: next }, (_, i) => i + 1));
      const v2 = (roots.get(next) as Envelope<RootDocument>).signed;
      const signed = t.app.get(SigningService).desiredState({ type: 'desired-state', nodeId: 'n', deploymentId: 'd', issued: '', expires: '' } as never);
      verifyThreshold(signed, v2.roles.release, v2.keys, v2.revokedKeyIds);
    } finally {
      await rm(offlineDir, { recursive: true, force: true });
    }
  });

  it('keeps its keys when the directory holds a root that does not follow from the loaded one', async () => {
    const loaded = t.app.get(SigningService).root.signed.version;
    const rogueKeys = [generateSigningKey(), generateSigningKey()];
    const rogue = buildRoot({ version: loaded + 1, expires: new Date(Date.now() + 86_400_000), rootKeys: rogueKeys, rootThreshold: 1, releaseKeys: rogueKeys, releaseThreshold: 1 });
    const saved = await readFile(join(keysDir, 'root.json'));
    await writeFile(join(keysDir, 'root.json'), JSON.stringify(signRoot(rogue, rogueKeys)));
    try {
      const res = await t.http().post('/v1/trust/reload').set(bearer(t.adminKey)).expect(503);
      expect(res.body.detail).toMatch(/does not follow from the loaded version/);
      expect(t.app.get(SigningService).root.signed.version).toBe(loaded);
    } finally {
      await writeFile(join(keysDir, 'root.json'), saved);
    }
  });
});
