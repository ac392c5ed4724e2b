import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { encodeMessage, envelopeFields, fleetTopics, rootEnvelopeSchema } from '#protocol';
import { type Envelope, importPrivateKey, type ModelManifest, type RootDocument, signDesiredState, signEnvelope, signManifest, type SigningKey } from '#trust';
import { encodeDesiredState } from '../../apps/control-plane/src/deployments/desired-state-message.js';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { nextRoot } from '../../apps/control-plane/src/keys/root-change.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 8;
const golden = Array.from({ length: INPUTS }, (_, i) => (i % 3) / 3);
const KEYS_CLI = resolve('dist/apps/control-plane/src/cli/keys.js');

/** Every private key in a directory: what an attacker who owns the control plane's host holds. */
async function keysIn(dir: string): Promise<SigningKey[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.pem'));
  return Promise.all(files.map(async (f) => importPrivateKey(await readFile(join(dir, f), 'utf8'))));
}

describe('publisher-signed releases: the control plane holds no release key', () => {
  let broker: TestBroker;
  let t: TestApp;
  let keysDir: string;
  let releaseDir: string;
  let rootDir: string;
  let agent: AgentProcess;
  const cp = { username: 'edgefleet-cp', password: randomBytes(16).toString('hex') };

  beforeAll(async () => {
    keysDir = await mkdtemp(join(tmpdir(), 'ef-keys-'));
    releaseDir = await mkdtemp(join(tmpdir(), 'ef-publisher-'));
    rootDir = await mkdtemp(join(tmpdir(), 'ef-root-')); // offline: the control plane never reads it
    await new KeyStore(keysDir).init({
      rootKeys: 3,
      rootThreshold: 2,
      releaseKeys: 3,
      releaseThreshold: 2,
      expiresDays: 30,
      publisherSigned: { releaseDir, rootDir, directorKeys: 1, directorThreshold: 1 },
    });
    broker = await startTestBroker({ dynsec: cp });
    t = await startTestApp({ MQTT_URL: broker.url, MQTT_USERNAME: cp.username, MQTT_PASSWORD: cp.password, MQTT_DYNSEC: 'true', KEYS_DIR: keysDir });
    await createModel(t, 'digits', INPUTS, 4);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'publisher' } });
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name: 'publisher-0' });
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
    await rm(keysDir, { recursive: true, force: true });
    await rm(releaseDir, { recursive: true, force: true });
    await rm(rootDir, { recursive: true, force: true });
  });

  it('with only the control plane’s keys an attacker cannot get a node to run an unreleased model; the publishers’ release commits', async () => {
    const model = denseSoftmaxModel(1, INPUTS);
    const version = await uploadVersion(t, 'digits', { version: '1.0.0', selfTest: { input: golden } }, model.bytes);
    const [row] = (await t.db.query(`SELECT manifest FROM model_versions WHERE id = $1`, [version.id])) as { manifest: Envelope<ModelManifest> }[];
    const uploaded = row?.manifest as Envelope<ModelManifest>;
    expect(uploaded.signatures).toEqual([]);
    const refused = await t.http().post('/v1/deployments').set(bearer(t.adminKey)).send({ modelVersionId: version.id, nodeIds: [agent.nodeId] }).expect(409);
    expect(refused.body.detail).toMatch(/not released/);

    // The attacker owns the control plane's host: every key in KEYS_DIR (the director key; the root keys are offline).
    const stolen = await keysIn(join(keysDir, 'keys'));
    expect(stolen.length).toBe(1);
    const forgedManifest = signManifest({ ...uploaded.signed, sequence: 1 }, stolen);
    await t.http().post(`/v1/models/digits/versions/${version.id}/release`).set(bearer(t.adminKey)).send({ manifest: forgedManifest }).expect(422);
    const deploymentId = randomUUID();
    const issued = new Date();
    const forged = encodeDesiredState(
      (state) => signDesiredState(state, stolen),
      { nodeId: agent.nodeId, deploymentId, manifest: forgedManifest, issued, expires: new Date(issued.getTime() + 3_600_000) },
      { sha256: version.sha256, size: model.bytes.length, chunkSize: 65_536 },
    );
    const admin = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `attacker-${randomBytes(3).toString('hex')}`, username: cp.username, password: cp.password, reconnectPeriod: 0 });
    await admin.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).desired(agent.nodeId), forged, { qos: 1 });
    // Nor can it rotate the root to a release key of its own: the root keys are not in KEYS_DIR.
    const current = (await new KeyStore(keysDir).currentRoot()).signed;
    const rogue: Envelope<RootDocument> = signEnvelope(nextRoot(current, { expiresDays: 30, releaseKeys: stolen, releaseThreshold: 1 }), stolen);
    await admin.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).trustRoot(current.version + 1), encodeMessage('trust-root', { ...envelopeFields(), root: rootEnvelopeSchema.parse(rogue) }), { qos: 1 });
    await admin.endAsync();
    const rootRefusal = await waitFor(
      async () => agent.logs.map((l) => JSON.parse(l) as { msg?: string; refusedVersion?: number; reason?: string }).find((l) => l.msg === 'refused a root' && l.refusedVersion === current.version + 1),
      (l) => l !== undefined,
      10_000,
      'the rogue root refused',
    );
    expect(rootRefusal?.reason).toBe('bad-rotation'); // the old root's threshold is not met
    const refusal = await waitFor(
      async () => agent.logs.map((l) => JSON.parse(l) as { msg?: string; deploymentId?: string; claimedDeploymentId?: string; reason?: string }).find((l) => l.msg === 'refused a desired state' && (l.deploymentId ?? l.claimedDeploymentId) === deploymentId),
      (l) => l !== undefined,
      10_000,
      'the forged desired state refused',
    );
    expect(refusal?.reason).toBe('threshold');
    expect((await agent.status()).model).toBeNull();

    // The publishers (two of the three release keys, outside the control plane) sign with the CLI.
    const file = join(releaseDir, 'release.json');
    await writeFile(file, JSON.stringify(uploaded));
    const releaseKeys = (await readdir(releaseDir)).filter((f) => f.endsWith('.pem'));
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [KEYS_CLI, ...args]);
    await cli('sign-release', file, '--key', join(releaseDir, releaseKeys[0] as string), '--sequence', '1');
    await cli('sign-release', file, '--key', join(releaseDir, releaseKeys[1] as string));
    const released = JSON.parse(await readFile(file, 'utf8')) as Envelope<ModelManifest>;
    expect(released.signatures).toHaveLength(2);
    // A release must be the uploaded version: other bytes under genuine signatures are refused.
    const otherBytes = { ...released.signed, sha256: 'f'.repeat(64) };
    const publishers = await keysIn(releaseDir);
    const smuggled = await t.http().post(`/v1/models/digits/versions/${version.id}/release`).set(bearer(t.adminKey)).send({ manifest: signManifest(otherBytes, publishers) }).expect(400);
    expect(smuggled.body.detail).toMatch(/sha256 differ/);
    await t.http().post(`/v1/models/digits/versions/${version.id}/release`).set(bearer(t.adminKey)).send({ manifest: released }).expect(200);

    const deployment = (await t.http().post('/v1/deployments').set(bearer(t.adminKey)).send({ modelVersionId: version.id, nodeIds: [agent.nodeId] }).expect(201)).body as { id: string };
    await waitFor(
      async () => {
        await agent.infer(golden); // feeds the soak once the model serves
        const res = await t.http().get(`/v1/deployments/${deployment.id}`).set(bearer(t.adminKey)).expect(200);
        return (res.body.targets as { state: string | null }[]).map((x) => x.state);
      },
      (s) => s.every((x) => x === 'committed'),
      60_000,
      'the released version committed',
    );
    expect((await agent.status()).model?.sha256).toBe(version.sha256);
  }, 120_000);
});
