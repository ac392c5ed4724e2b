import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import { envelopeFields, fleetTopics, type ShadowReportMessage } from '#protocol';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, enrolNodes, startRollout, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { expectTickChainEnded } from '../helpers/rollout-ticks.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

interface Target {
  state: string;
  reason: string | null;
  published: boolean;
  decision: string | null;
}

/**
 * A shadowed rollout that stops (issue 15 review): no node activates the candidate after the stop, and
 * the stopped rollout's ticks end even when a node told to abandon never answers. Nodes are silent
 * (enrolled, never connected) or played by hand over the real broker.
 */
describe('a shadowed rollout that stops', () => {
  let broker: TestBroker;
  let t: TestApp;
  let client: MqttClient;
  let version: { id: string; sha256: string };

  const target = async (rolloutId: string, nodeId: string) =>
    ((await t.db.query(
      `SELECT rn.state, rn.reason, rn.published, dt.shadow_decision AS decision FROM rollout_nodes rn
         JOIN deployment_targets dt ON dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id
        WHERE rn.rollout_id = $1 AND rn.node_id = $2`,
      [rolloutId, nodeId],
    )) as Target[])[0];
  const deploymentOf = async (rolloutId: string, nodeId: string) =>
    ((await t.db.query(`SELECT deployment_id AS id FROM rollout_nodes WHERE rollout_id = $1 AND node_id = $2`, [rolloutId, nodeId])) as { id: string }[])[0]?.id as string;
  /** The shadow decision in the node's retained desired state: what a node that connects now would read. */
  const retainedDecision = async (nodeId: string): Promise<string | null> => {
    const reader = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    try {
      const message = new Promise<Buffer>((resolve) => reader.once('message', (_topic, payload) => resolve(payload)));
      await reader.subscribeAsync(fleetTopics(t.config.mqtt.fleetNamespace).desired(nodeId), { qos: 1 });
      const parsed = JSON.parse((await message).toString()) as { desired: { signed: { shadow?: { decision?: string } } } };
      return parsed.desired.signed.shadow?.decision ?? null;
    } finally {
      await reader.endAsync();
    }
  };
  const abort = (rolloutId: string) => t.http().post(`/v1/rollouts/${rolloutId}/abort`).set(bearer(t.adminKey)).send({ reason: 'operator stop', rollback: false }).expect(200);

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    await createModel(t, 'digits', 16, 4);
    version = await uploadVersion(t, 'digits', { version: '1.0.0' }, denseSoftmaxModel(1).bytes);
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  }, 60_000);

  afterAll(async () => {
    await client?.endAsync();
    await t?.close();
    await broker?.stop();
  });

  it('withdraws an approval the node has not acted on: after the stop its desired state says abandon', async () => {
    const [node = ''] = await enrolNodes(t, 1, { fleet: 'approved' });
    const id = await startRollout(t, { modelVersionId: version.id, selector: 'fleet=approved', strategy: { nodeTimeoutSeconds: 3600, shadow: { minSamples: 1 } } });
    await waitFor(() => target(id, node), (r) => r?.state === 'dispatched' && r.published, 30_000, 'the node dispatched');
    const report: ShadowReportMessage = {
      ...envelopeFields(),
      seq: 1,
      deploymentId: await deploymentOf(id, node),
      sha256: version.sha256,
      startedAt: new Date().toISOString(),
      samples: 5,
      agreed: 5,
      errors: 0,
      skipped: 0,
      meanDivergence: 0,
      meanAbsDiff: 0,
      activeLatencyMs: 1,
      candidateLatencyMs: 1,
    };
    await client.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(node, 'shadow'), JSON.stringify(report), { qos: 1 });
    // The wave passes: the node is approved, and the approval is signed into its retained desired state.
    await waitFor(() => target(id, node), (r) => r?.decision === 'activate' && r.published, 30_000, 'the node approved');
    expect(await retainedDecision(node)).toBe('activate');
    // It has not reported the candidate active (offline, or waiting for its window) when the rollout stops.
    await abort(id);
    const after = await waitFor(() => target(id, node), (r) => r?.decision === 'abandon' && r.published, 30_000, 'the approval withdrawn');
    expect(after.state).toBe('dispatched');
    expect(await retainedDecision(node)).toBe('abandon');
  }, 90_000);

  it('stops ticking once a node told to abandon stays silent past its deadline, and fails it with reason timeout', async () => {
    const [node = ''] = await enrolNodes(t, 1, { fleet: 'silent' });
    const id = await startRollout(t, { modelVersionId: version.id, selector: 'fleet=silent', strategy: { nodeTimeoutSeconds: 2, shadow: { minSamples: 1 } } });
    await waitFor(() => target(id, node), (r) => r?.state === 'dispatched' && r.published, 30_000, 'the node dispatched');
    await abort(id); // before the node's deadline: the running rollout's timeout never sees it
    await waitFor(() => target(id, node), (r) => r?.decision === 'abandon' && r.published, 30_000, 'the node told to abandon');
    const failed = await waitFor(() => target(id, node), (r) => r?.state === 'failed', 30_000, 'the silent node given up on');
    expect(failed).toMatchObject({ state: 'failed', reason: 'timeout', decision: 'abandon' });
    await expectTickChainEnded(t, id);
  }, 90_000);
});
