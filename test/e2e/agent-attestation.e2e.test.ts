import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { encodeMessage, envelopeFields, type FleetTopics, fleetTopics, parseMessage } from '#protocol';
import { signAttestation } from '#trust';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 8;
const golden = Array.from({ length: INPUTS }, (_, i) => (i % 3) / 3);

interface NodeAttestation {
  verdict: string;
  sha256: string | null;
  at: string;
}

/**
 * Attestation on a real agent: the node signs the digest of the bytes its engine loaded, and the control
 * plane compares it with the release the node last committed. A genuine older release put back in the
 * active slot by hand (something other than the agent) is flagged, as is a report the node key did not sign.
 */
describe('attestation on a real agent', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;
  let admin: MqttClient;
  let topics: FleetTopics;
  const v1 = denseSoftmaxModel(11, INPUTS, 3);
  const v2 = denseSoftmaxModel(12, INPUTS, 3);
  let released: { id: string; sha256: string }[] = [];
  let v1Sha = '';
  let v2Sha = '';

  const upload = (version: string, model: typeof v1) =>
    uploadVersion(t, 'attested', { version, selfTest: { input: golden, expectedOutput: Array.from(model.reference(Float32Array.from(golden))), tolerance: 1e-4 } }, model.bytes);
  const attestation = async (): Promise<NodeAttestation | null> =>
    ((await t.http().get(`/v1/nodes/${agent.nodeId}`).set(bearer(t.adminKey)).expect(200)).body as { attestation: NodeAttestation | null }).attestation;
  const reports = async (result: string) => {
    const metrics = (await t.http().get('/metrics').expect(200)).text;
    return Number(new RegExp(`edgefleet_attestation_reports_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  };
  const rollOut = async (version: { id: string; sha256: string }) => {
    const deployment = await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256, 30_000, `${version.sha256.slice(0, 8)} serving`);
    for (let i = 0; i < 3; i++) expect((await agent.infer(golden)).status).toBe(200);
    await waitFor(
      async () => ((await t.http().get(`/v1/deployments/${deployment.id}`).set(bearer(t.adminKey)).expect(200)).body as { targets: { state: string | null }[] }).targets[0]?.state,
      (state) => state === 'committed',
      30_000,
      'committed',
    );
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50', ATTESTATION_NONCE_SECONDS: '2' });
    topics = fleetTopics(t.config.mqtt.fleetNamespace);
    admin = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    await createModel(t, 'attested', INPUTS, 3);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'attested' } });
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 3, seconds: 20 } });
    released = [await upload('1.0.0', v1), await upload('2.0.0', v2)];
    [v1Sha, v2Sha] = released.map((r) => r.sha256) as [string, string];
  }, 60_000);

  afterAll(async () => {
    await admin?.endAsync();
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  it('verifies a node that serves the release it committed, and follows it to the next one', async () => {
    const [first, second] = released as [{ id: string; sha256: string }, { id: string; sha256: string }];
    await rollOut(first);
    await waitFor(attestation, (a) => a?.verdict === 'verified' && a.sha256 === v1Sha, 30_000, 'v1 attested');
    await rollOut(second);
    await waitFor(attestation, (a) => a?.verdict === 'verified' && a.sha256 === v2Sha, 30_000, 'v2 attested');
    // Between activation and the stored commit the node serves the release it is applying: no false alarm.
    const alarms = (await t.db.query(`SELECT payload FROM events WHERE type = 'node.attestation-mismatch' AND node_id = $1`, [agent.nodeId])) as unknown[];
    expect(alarms).toEqual([]);
  });

  it('flags a genuine older release put back in the active slot by hand', async () => {
    // Nothing tells the node to move again once it restarts: the retained desired state is cleared.
    await admin.publishAsync(topics.desired(agent.nodeId), '', { qos: 1, retain: true });
    await agent.kill();
    // v1 is still in the other A/B slot, with its genuine signed manifest: point the active slot at it.
    const active = JSON.parse(await readFile(join(agent.stateDir, 'state', 'active.json'), 'utf8')) as { slot: string };
    const slot = active.slot === 'a' ? 'b' : 'a';
    await writeFile(join(agent.stateDir, 'state', 'active.json'), JSON.stringify({ slot, sha256: v1Sha }));
    const before = await reports('mismatch');
    await agent.restart();
    await waitFor(() => agent.status(), (s) => s.model?.sha256 === v1Sha, 30_000, 'the hand-placed v1 serving');
    const flagged = await waitFor(attestation, (a) => a?.verdict === 'mismatch', 30_000, 'mismatch');
    expect(flagged?.sha256).toBe(v1Sha);
    expect(await reports('mismatch')).toBeGreaterThan(before);
    expect(agent.logs.join('\n')).not.toContain('attestation report does not verify');
    // The transition is a catalogue event, once (later reports with the same verdict are no news).
    const events = (await t.db.query(
      `SELECT payload FROM events WHERE type = 'node.attestation-mismatch' AND node_id = $1
          AND payload->>'loadedSha256' = $2 AND payload->>'assignedSha256' = $3 ORDER BY id`,
      [agent.nodeId, v1Sha, v2Sha],
    )) as { payload: Record<string, unknown> }[];
    expect(events.map((e) => e.payload)).toEqual([{ verdict: 'mismatch', loadedSha256: v1Sha, assignedSha256: v2Sha }]);
  });

  it('calls a report the node key did not sign invalid, and does not judge one over an old nonce', async () => {
    const nonce = await new Promise<string>((resolve) => {
      admin.on('message', (topic, payload) => {
        const parsed = parseMessage('attestation-nonce', payload);
        if (topic === topics.attestationNonce && parsed.ok) resolve(parsed.value.nonce);
      });
      void admin.subscribeAsync(topics.attestationNonce, { qos: 1 });
    });
    const forger = generateKeyPairSync('ed25519').privateKey;
    const heartbeat = (n: string, sig: string) =>
      encodeMessage('heartbeat', {
        ...envelopeFields(), seq: Date.now(), model: { name: 'attested', version: '2.0.0', variant: 'default', sha256: v2Sha },
        uptimeS: 1, cpu: 0, memMb: 1, freeDiskMb: 1, inferences: 0, errors: 0, latencyMs: null,
        attestation: { nonce: n, sha256: v2Sha, sig },
      });
    const stale = await reports('stale-nonce');
    await admin.publishAsync(topics.uplink(agent.nodeId, 'heartbeat'), heartbeat('old-nonce-0123456789abcdef', signAttestation(forger, { nodeId: agent.nodeId, nonce: 'old-nonce-0123456789abcdef', sha256: v2Sha })), { qos: 1 });
    await waitFor(() => reports('stale-nonce'), (n) => n > stale, 45_000, 'a stale report counted');
    // Stop the real agent so its own heartbeats do not overwrite the verdict before the test reads it.
    await agent.kill();
    await admin.publishAsync(topics.uplink(agent.nodeId, 'heartbeat'), heartbeat(nonce, signAttestation(forger, { nodeId: agent.nodeId, nonce, sha256: v2Sha })), { qos: 1 });
    await waitFor(attestation, (a) => a?.verdict === 'invalid', 45_000, 'invalid');
    const verdicts = (await t.db.query(`SELECT payload->>'verdict' AS v FROM events WHERE type = 'node.attestation-mismatch' AND node_id = $1 ORDER BY id`, [agent.nodeId])) as { v: string }[];
    expect(verdicts.map((r) => r.v).filter((v) => v === 'invalid')).toEqual(['invalid']);
    expect(verdicts.at(-1)?.v).toBe('invalid');
  });

  it('does not keep a verdict for a node that stops attesting', async () => {
    // The agent is stopped: no report for two nonce epochs (2 s each) turns the last verdict stale.
    await waitFor(attestation, (a) => a?.verdict === 'stale', 30_000, 'stale');
  });
});
