import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fleetTopics } from '#protocol';
import { type Envelope, exportPublicKey, generateSigningKey, importPublicKey, parseManifestEnvelope, type RootDocument, signDesiredState, signEnvelope, type SigningKey } from '#trust';
import { encodeDesiredState } from '../../apps/control-plane/src/deployments/desired-state-message.js';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 8;
const golden = Array.from({ length: INPUTS }, (_, i) => (i % 3) / 3);
const HEARTBEAT_SECONDS = 2;

interface AgentTrust {
  readonly rootVersion: number;
  readonly rootExpired: boolean;
}

describe('trust lifecycle: rotation and revocation reach running agents', () => {
  let broker: TestBroker;
  let t: TestApp;
  let keysDir: string;
  let store: KeyStore;
  let agents: AgentProcess[];
  /** Root keys made "offline" in the root rotation test: only their public halves reach KEYS_DIR's host. */
  const offline = [generateSigningKey(), generateSigningKey(), generateSigningKey()];
  const cp = { username: 'edgefleet-cp', password: randomBytes(16).toString('hex') };

  const trustOf = async (agent: AgentProcess): Promise<AgentTrust> => ((await (await fetch(`${agent.url}/v1/status`)).json()) as { trust: AgentTrust }).trust;
  const allAt = (version: number, what: string, timeoutMs = HEARTBEAT_SECONDS * 1000) =>
    Promise.all(agents.map((a) => waitFor(() => trustOf(a), (x) => x.rootVersion === version, timeoutMs, `${what}: root version ${version} on ${a.nodeId}`)));
  const upload = (version: string, seed: number) => {
    const model = denseSoftmaxModel(seed, INPUTS);
    return uploadVersion(t, 'digits', { version, selfTest: { input: golden, expectedOutput: Array.from(model.reference(Float32Array.from(golden))), tolerance: 1e-4 } }, model.bytes);
  };
  const targetStates = async (deploymentId: string) =>
    ((await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null }[]).map((x) => x.state);
  const committedOnAll = async (versionId: string) => {
    const deployment = await deploy(t, versionId, { selector: 'fleet=trust' });
    await waitFor(
      async () => {
        // Inferences feed each agent's soak once it serves the new model.
        await Promise.all(agents.map((a) => a.infer(golden)));
        return targetStates(deployment.id);
      },
      (s) => s.every((x) => x === 'committed'),
      60_000,
      'committed on every agent',
    );
  };

  beforeAll(async () => {
    keysDir = await mkdtemp(join(tmpdir(), 'ef-keys-'));
    store = new KeyStore(keysDir);
    await store.init({ rootKeys: 3, rootThreshold: 2, releaseKeys: 3, releaseThreshold: 2, expiresDays: 30 });
    broker = await startTestBroker({ dynsec: cp });
    t = await startTestApp({ MQTT_URL: broker.url, MQTT_USERNAME: cp.username, MQTT_PASSWORD: cp.password, MQTT_DYNSEC: 'true', KEYS_DIR: keysDir, TRUST_RELOAD_MS: '500' });
    await createModel(t, 'digits', INPUTS, 4);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'trust' } });
    agents = await Promise.all([0, 1, 2].map((i) => AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name: `trust-${i}`, heartbeatSeconds: HEARTBEAT_SECONDS })));
    await committedOnAll((await upload('1.0.0', 1)).id);
  }, 120_000);

  afterAll(async () => {
    await Promise.all((agents ?? []).map((a) => a.remove()));
    await t?.close();
    await broker?.stop();
    await rm(keysDir, { recursive: true, force: true });
  });

  it('rotates the release keys and revokes one while three agents run: a document signed with the revoked key is refused, a genuine deployment commits', async () => {
    expect((await allAt(1, 'enrolled')).length).toBe(3);

    // Rotation: new release keys, root v2; this replica reloads at once on the admin route.
    const rotatedAt = Date.now();
    await store.rotate('release', 30);
    const reloaded = await t.http().post('/v1/trust/reload').set(bearer(t.adminKey)).expect(200);
    expect(reloaded.body.rootVersion).toBe(2);
    await allAt(2, 'after the rotation');
    const rotationMs = Date.now() - rotatedAt;

    // Revocation of one v2 release key, picked up by the periodic check (no reload call), root v3.
    const v2 = (await store.currentRoot()).signed;
    const [revokedId, genuineId] = v2.roles.release.keyIds;
    const leaked = await store.loadKey(revokedId as string);
    const genuine = await store.loadKey(genuineId as string);
    const revokedAt = Date.now();
    await store.revoke(leaked.keyId, 30);
    await allAt(3, 'after the revocation');
    // Rotation: CLI write + reload route; revocation: CLI write + the periodic check (TRUST_RELOAD_MS 500).
    console.log(`trust: 3 agents on the rotated root ${rotationMs} ms after \`keys rotate\`, on the revoking root ${Date.now() - revokedAt} ms after \`keys revoke\``);
    for (const agent of agents) await stat(join(agent.stateDir, 'state', 'trust', 'roots', '3.json'));

    // An attacker with the revoked key (and one genuine key) publishes as the broker admin would.
    const target = agents[0] as AgentProcess;
    const version = await upload('2.0.0', 2);
    const [row] = (await t.db.query(`SELECT manifest, artifact_sha256 FROM model_versions WHERE id = $1`, [version.id])) as { manifest: unknown; artifact_sha256: string }[];
    const manifest = parseManifestEnvelope(row?.manifest);
    const forgedId = randomUUID();
    const issued = new Date();
    const forged = encodeDesiredState(
      (state) => signDesiredState(state, [leaked, genuine]),
      { nodeId: target.nodeId, deploymentId: forgedId, manifest, issued, expires: new Date(issued.getTime() + 3_600_000) },
      { sha256: manifest.signed.sha256, size: manifest.signed.size, chunkSize: 65_536 },
    );
    const admin = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `attacker-${randomBytes(3).toString('hex')}`, username: cp.username, password: cp.password, reconnectPeriod: 0 });
    await admin.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).desired(target.nodeId), forged, { qos: 1 });
    await admin.endAsync();
    const refusal = await waitFor(
      async () => target.logs.map((l) => JSON.parse(l) as { msg?: string; deploymentId?: string; claimedDeploymentId?: string; reason?: string }).find((l) => l.msg === 'refused a desired state' && (l.deploymentId ?? l.claimedDeploymentId) === forgedId),
      (l) => l !== undefined,
      10_000,
      'the forged desired state refused',
    );
    expect(['revoked-key', 'threshold']).toContain(refusal?.reason);
    expect((await target.status()).model?.version).toBe('1.0.0');

    // The genuine deployment of the same version, signed by the control plane's current keys, commits.
    await committedOnAll(version.id);
  }, 180_000);

  it('walks a root rotation signed offline (propose, sign on two machines, publish); a restarted agent still trusts the new root', async () => {
    const current = (await store.currentRoot()).signed;
    const proposal = await store.propose({ expiresDays: 30, rootKeys: offline.map((k) => importPublicKey(exportPublicKey(k))) });
    expect(proposal.signatures).toEqual([]);
    expect(proposal.signed.version).toBe(current.version + 1);
    await expect(store.publish(proposal)).rejects.toThrow(/would be refused by nodes/);
    // Signed on the machines holding the old root keys (two of three) and the new ones (two of three).
    const oldRoot = await Promise.all(current.roles.root.keyIds.slice(0, 2).map((id) => store.loadKey(id)));
    const signed: Envelope<RootDocument> = { signed: proposal.signed, signatures: [...oldRoot, ...offline.slice(0, 2)].flatMap((k: SigningKey) => signEnvelope(proposal.signed, [k]).signatures) };
    await store.publish(signed);
    await allAt(current.version + 1, 'after the root rotation');

    const restarted = agents[1] as AgentProcess;
    const stored = JSON.parse(await readFile(join(restarted.stateDir, 'state', 'trust', 'roots', `${current.version + 1}.json`), 'utf8')) as Envelope<RootDocument>;
    expect(stored.signed.roles.root.keyIds).toEqual(offline.map((k) => k.keyId));
    await restarted.stop();
    const before = restarted.logs.length;
    await restarted.restart();
    expect((await trustOf(restarted)).rootVersion).toBe(current.version + 1);
    // It trusted the stored chain at start: nothing to walk again when the retained roots arrive.
    expect(restarted.logs.slice(before).some((l) => l.includes('moved to a newer root'))).toBe(false);

    // Updates keep flowing under the new root.
    await committedOnAll((await upload('3.0.0', 3)).id);
  }, 180_000);

  /** The release keys that signed the manifest of the model an agent's active slot holds. */
  const activeSigners = async (agent: AgentProcess): Promise<string[]> => {
    const state = join(agent.stateDir, 'state');
    const { slot } = JSON.parse(await readFile(join(state, 'active.json'), 'utf8')) as { slot: string };
    const content = JSON.parse(await readFile(join(state, 'slots', slot, 'content.json'), 'utf8')) as { manifest: Envelope<unknown> };
    return content.manifest.signatures.map((s) => s.keyId);
  };

  it('revoking a key the serving model was signed with: agents take the re-signed copy, and a restarted agent serves its model', async () => {
    const current = (await store.currentRoot()).signed;
    const serving = await (agents[2] as AgentProcess).status();
    const [revoked] = await activeSigners(agents[2] as AgentProcess);
    expect(current.roles.release.keyIds).toContain(revoked);
    // The root keys are offline since the previous test: propose, sign with two of them, publish.
    const proposal = await store.propose({ expiresDays: 30, revoke: [revoked as string] });
    await store.publish({ signed: proposal.signed, signatures: offline.slice(0, 2).flatMap((k) => signEnvelope(proposal.signed, [k]).signatures) });
    await allAt(current.version + 1, 'after revoking a key of the serving model');
    for (const agent of agents) await waitFor(() => activeSigners(agent), (ids) => !ids.includes(revoked as string), 10_000, 'the re-signed manifest in the active slot');

    const restarted = agents[2] as AgentProcess;
    await restarted.stop();
    await restarted.restart();
    expect((await restarted.status()).model?.sha256).toBe(serving.model?.sha256);
    expect((await restarted.infer(golden)).status).toBe(200);
  }, 120_000);
});
