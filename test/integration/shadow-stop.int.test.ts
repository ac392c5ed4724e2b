import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import { type DeploymentState, encodeMessage, envelopeFields, type FailureReason, fleetTopics, type ShadowReportMessage } from '#protocol';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, getRollout, reportRunning, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { expectTickChainEnded } from '../helpers/rollout-ticks.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
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
  /** What the nodes of the rollback tests ran before the shadowed version. */
  let base: { id: string; sha256: string };

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
  const post = (path: string) => t.http().post(path).set(bearer(t.adminKey)).send({});
  /** A shadow report of `samples` that all agreed, sent for the node's current deployment in the rollout. */
  const sendReport = async (rolloutId: string, nodeId: string, samples: number) => {
    const report: ShadowReportMessage = {
      ...envelopeFields(),
      seq: 1,
      deploymentId: await deploymentOf(rolloutId, nodeId),
      sha256: version.sha256,
      startedAt: new Date().toISOString(),
      samples,
      agreed: samples,
      errors: 0,
      skipped: 0,
      meanDivergence: 0,
      meanAbsDiff: 0,
      activeLatencyMs: 1,
      candidateLatencyMs: 1,
    };
    await client.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(nodeId, 'shadow'), JSON.stringify(report), { qos: 1 });
  };
  const statusSeq = new Map<string, number>();
  /** A status the node sends about its current deployment in the rollout, as an agent would (its own increasing seq). */
  const sendStatus = async (rolloutId: string, nodeId: string, state: DeploymentState, reason?: FailureReason, detail?: string) => {
    const seq = (statusSeq.get(nodeId) ?? 0) + 1;
    statusSeq.set(nodeId, seq);
    const message = { ...envelopeFields(), seq, deploymentId: await deploymentOf(rolloutId, nodeId), state, ...(reason ? { reason } : {}), ...(detail ? { detail } : {}) };
    await client.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(nodeId, 'status'), encodeMessage('status', message), { qos: 1 });
  };
  /** Nodes that run `base` (deployed by hand to simulated nodes, then the simulation stops): a rollout has something to return them to. */
  const nodesRunningBase = async (count: number, fleetLabel: string) => {
    const nodes = await enrolNodes(t, count, { fleet: fleetLabel });
    const fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, nodes);
    try {
      await deploy(t, base.id, { nodeIds: nodes });
      await reportRunning(t, fleet, nodes, base.id);
    } finally {
      await fleet.stop();
    }
    return nodes;
  };
  /** A shadowed rollout of the version to one node that runs `base`, started and dispatched. */
  const shadowedRolloutOfOne = async (fleetLabel: string, minSamples: number) => {
    const [node = ''] = await nodesRunningBase(1, fleetLabel);
    const id = await startRollout(t, { modelVersionId: version.id, selector: `fleet=${fleetLabel}`, strategy: { nodeTimeoutSeconds: 3600, shadow: { minSamples } } });
    await waitFor(() => target(id, node), (r) => r?.state === 'dispatched' && r.published, 30_000, 'the node dispatched');
    return { id, node };
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    await createModel(t, 'digits', 16, 4);
    version = await uploadVersion(t, 'digits', { version: '1.0.0' }, denseSoftmaxModel(1).bytes);
    base = await uploadVersion(t, 'digits', { version: '0.9.0' }, denseSoftmaxModel(2).bytes);
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

  it('refuses to roll back a stopped rollout whose nodes all dropped the candidate in shadow: none of them runs it', async () => {
    const { id, node } = await shadowedRolloutOfOne('abandoned', 100);
    await sendReport(id, node, 5);
    await abort(id);
    await waitFor(() => target(id, node), (r) => r?.decision === 'abandon' && r.published, 30_000, 'the node told to abandon');
    await sendStatus(id, node, 'failed', 'cancelled', 'the control plane abandoned the candidate: its rollout stopped before a shadow verdict');
    await waitFor(() => target(id, node), (r) => r?.state === 'failed', 30_000, 'the cancel folded in');
    const refused = await post(`/v1/rollouts/${id}/rollback`).expect(409);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.body.detail).toMatch(/none of its nodes runs its version.*abandoned it in shadow/);
    expect((await target(id, node))?.state).toBe('failed'); // nothing was sent to it
    const rollout = await getRollout(t, id);
    expect(rollout.waves[0]?.shadow).toMatchObject({ verdict: 'none', samples: 5 });
    // The event says what the view says: no verdict on the candidate, the rollout stopped first.
    expect(rollout.events.filter((e) => e.kind === 'shadow-verdict').map((e) => e.detail)).toEqual([expect.objectContaining({ verdict: 'none', decision: 'abandon', cause: 'stopped' })]);
  }, 90_000);

  it('leaves out of an abort with rollback the nodes it tells to drop the candidate: they never ran it', async () => {
    const { id, node } = await shadowedRolloutOfOne('abort-rollback', 100);
    await sendReport(id, node, 3);
    await t.http().post(`/v1/rollouts/${id}/abort`).set(bearer(t.adminKey)).send({ reason: 'operator stop', rollback: true }).expect(200);
    const after = await waitFor(() => target(id, node), (r) => r?.decision === 'abandon' && r.published, 30_000, 'the node told to abandon');
    expect(after.state).toBe('dispatched'); // not reverting: nothing is re-issued to it
    const kinds = (await getRollout(t, id)).events.map((e) => e.kind);
    expect(kinds).toContain('nodes-not-reverted');
    expect(kinds).not.toContain('rollback-started');
    await sendStatus(id, node, 'failed', 'cancelled', 'its rollout stopped before a shadow verdict');
    await waitFor(() => target(id, node), (r) => r?.state === 'failed' && r.reason === 'failed:cancelled', 30_000, 'the cancel folded in');
  }, 90_000);

  it('keeps the wave figures its verdict was made on when a completed shadowed rollout is rolled back', async () => {
    const { id, node } = await shadowedRolloutOfOne('rolled-back', 5);
    await sendReport(id, node, 7);
    await waitFor(() => target(id, node), (r) => r?.decision === 'activate' && r.published, 30_000, 'the node approved');
    await sendStatus(id, node, 'activated');
    await sendStatus(id, node, 'committed');
    await waitForRolloutState(t, id, ['completed']);
    await post(`/v1/rollouts/${id}/rollback`).expect(200);
    await waitFor(() => target(id, node), (r) => r?.state === 'reverting', 30_000, 'the node sent back');
    // The node's latest deployment is now the revert's: the figures are still its shadow run's.
    expect((await getRollout(t, id)).waves[0]?.shadow).toMatchObject({ verdict: 'pass', nodes: 1, samples: 7, agreement: 1 });
  }, 90_000);

  it("counts a node's unsolicited cancel as a failure; a resume sends the version again to a node the halt told to drop it, whenever it confirms", async () => {
    const [liar = '', shadowing = ''] = await enrolNodes(t, 2, { fleet: 'resumed' });
    const id = await startRollout(t, {
      modelVersionId: version.id,
      selector: 'fleet=resumed',
      strategy: { nodeTimeoutSeconds: 3600, failureThreshold: { count: 1 }, retries: { max: 1 }, shadow: { minSamples: 100 } },
    });
    await waitFor(() => target(id, shadowing), (r) => r?.state === 'dispatched' && r.published, 30_000, 'the nodes dispatched');
    // No stop was sent: a node claiming its update was cancelled failed for a reason of its own.
    await sendStatus(id, liar, 'failed', 'cancelled', 'forged');
    const liarTarget = await waitFor(() => target(id, liar), (r) => r?.state === 'failed', 30_000, 'the forged cancel folded in');
    expect(liarTarget.reason).toBe('failed:internal');
    const detail = (await t.db.query(`SELECT dt.detail FROM deployment_targets dt WHERE dt.deployment_id = $1 AND dt.node_id = $2`, [await deploymentOf(id, liar), liar])) as { detail: string }[];
    expect(detail[0]?.detail).toBe('reported cancelled, but no stop was sent to it: forged');
    // The failure halts the rollout; the node still shadowing is told to drop the candidate (cause: stopped).
    await waitForRolloutState(t, id, ['halted']);
    await waitFor(() => target(id, shadowing), (r) => r?.decision === 'abandon' && r.published, 30_000, 'the shadowing node told to abandon');
    const abandoned = await deploymentOf(id, shadowing);
    await post(`/v1/rollouts/${id}/resume`).expect(200);
    // Sent the version again at once, without waiting for its confirmation; the cancelled attempt is not counted.
    const again = await waitFor(
      async () => ((await t.db.query(`SELECT state, attempts, deployment_id AS "deploymentId", published FROM rollout_nodes WHERE rollout_id = $1 AND node_id = $2`, [id, shadowing])) as { state: string; attempts: number; deploymentId: string; published: boolean }[])[0],
      (r) => r?.state === 'dispatched' && r.deploymentId !== abandoned && r.published,
      30_000,
      'the version sent again',
    );
    expect(again.attempts).toBe(1);
    // Its confirmation of the old deployment, as the agent sends it (failed, then rolled back), changes nothing.
    const sendOld = async (state: DeploymentState) => {
      const seq = (statusSeq.get(shadowing) ?? 0) + 1;
      statusSeq.set(shadowing, seq);
      const message = { ...envelopeFields(), seq, deploymentId: abandoned, state, reason: 'cancelled' as const, detail: 'its rollout stopped before a shadow verdict' };
      await client.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(shadowing, 'status'), encodeMessage('status', message), { qos: 1 });
    };
    await sendOld('failed');
    await sendOld('rolled-back');
    await waitFor(
      async () => ((await t.db.query(`SELECT state, reason FROM deployment_targets WHERE deployment_id = $1 AND node_id = $2`, [abandoned, shadowing])) as { state: string; reason: string }[])[0],
      (r) => r?.state === 'rolled-back',
      30_000,
      'the old deployment confirmed',
    );
    const rollout = await getRollout(t, id);
    expect(rollout.state).toBe('running');
    expect((await target(id, shadowing))?.state).toBe('dispatched');
  }, 90_000);
});
