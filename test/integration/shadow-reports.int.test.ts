import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import { envelopeFields, fleetTopics, type ShadowReportMessage } from '#protocol';
import { waitFor } from '../helpers/agent-process.js';
import { RolloutViewsRepository } from '../../apps/control-plane/src/rollouts/rollout-views.repository.js';
import { ShadowReportsRepository } from '../../apps/control-plane/src/shadow/shadow-reports.repository.js';
import { createModel, deploy, enrolNodes, getRollout, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/** Shadow reports over the real broker into PostgreSQL: the latest by seq, only for a deployment that targets the node and about its artifact. */
describe('shadow reports (nodes/{nodeId}/shadow)', () => {
  let broker: TestBroker;
  let t: TestApp;
  let client: MqttClient;
  let nodeA: string;
  let nodeB: string;
  let deploymentA: string;
  let deploymentB: string;
  let version: { id: string; sha256: string };

  const report = (deploymentId: string, seq: number, samples: number): ShadowReportMessage => ({
    ...envelopeFields(),
    seq,
    deploymentId,
    sha256: version.sha256,
    startedAt: new Date().toISOString(),
    samples,
    agreed: samples,
    errors: 0,
    skipped: 0,
    meanDivergence: 0.001,
    meanAbsDiff: 0.002,
    activeLatencyMs: 0.5,
    candidateLatencyMs: 0.6,
  });
  const send = (nodeId: string, message: unknown) => client.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(nodeId, 'shadow'), JSON.stringify(message), { qos: 1 });
  const stored = async (deploymentId: string, nodeId: string) =>
    ((await t.db.query(`SELECT seq::int, samples FROM shadow_reports WHERE deployment_id = $1 AND node_id = $2`, [deploymentId, nodeId])) as { seq: number; samples: number }[])[0];

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    await createModel(t, 'digits', 16, 4);
    version = await uploadVersion(t, 'digits', { version: '1.0.0' }, denseSoftmaxModel(1).bytes);
    [nodeA = '', nodeB = ''] = await enrolNodes(t, 2);
    deploymentA = (await deploy(t, version.id, { nodeIds: [nodeA] })).id;
    deploymentB = (await deploy(t, version.id, { nodeIds: [nodeB] })).id;
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  }, 60_000);

  afterAll(async () => {
    await client?.endAsync();
    await t?.close();
    await broker?.stop();
  });

  it('keeps the latest report by seq; an older one, or one for a deployment that does not target the node, changes nothing', async () => {
    await send(nodeA, report(deploymentA, 20, 20));
    await waitFor(() => stored(deploymentA, nodeA), (row) => row?.samples === 20, 15_000, 'the first report stored');
    await send(nodeA, report(deploymentA, 15, 15)); // older: a redelivery or a reordered copy
    await send(nodeB, report(deploymentA, 30, 30)); // B is not a target of deployment A
    await send(nodeA, { ...report(deploymentA, 40, 5), agreed: 6 }); // refused at the edge: more agreements than samples
    await send(nodeA, { ...report(deploymentA, 41, 41), sha256: 'c'.repeat(64) }); // about another artifact than the deployment's
    // A later report of another node on the same connection: once it is stored, the ones before it were handled.
    await send(nodeB, report(deploymentB, 1, 3));
    await waitFor(() => stored(deploymentB, nodeB), (row) => row?.samples === 3, 15_000, 'the sentinel report stored');
    expect(await stored(deploymentA, nodeA)).toEqual({ seq: 20, samples: 20 });
    expect(await stored(deploymentA, nodeB)).toBeUndefined();
    await send(nodeA, report(deploymentA, 21, 25));
    await waitFor(() => stored(deploymentA, nodeA), (row) => row?.samples === 25, 15_000, 'a newer report replaces it');
  });

  it('counts each node once in the wave figures, sums huge counters without overflow, and times the run from dispatch', async () => {
    const nodes = await enrolNodes(t, 2, { fleet: 'figures' });
    // The tick waits (a long duration), so the figures stay put while they are read.
    const id = await startRollout(t, { modelVersionId: version.id, selector: 'fleet=figures', strategy: { nodeTimeoutSeconds: 7200, shadow: { minSamples: 1, durationSeconds: 3600 } } });
    const dispatched = await waitFor(
      async () => (await t.db.query(`SELECT node_id AS "nodeId", deployment_id AS "deploymentId", dispatched_at AS "dispatchedAt" FROM rollout_nodes WHERE rollout_id = $1 AND state = 'dispatched'`, [id])) as { nodeId: string; deploymentId: string; dispatchedAt: Date }[],
      (rows) => rows.length === 2,
      30_000,
      'both nodes dispatched',
    );
    const store = (nodeId: string, samples: number, agreed: number, startedAt: string, latencyMs: number) =>
      t.db.query(
        `INSERT INTO shadow_reports (deployment_id, node_id, seq, sha256, started_at, samples, agreed, errors, skipped, mean_divergence, mean_abs_diff, active_latency_ms, candidate_latency_ms)
         SELECT deployment_id, node_id, 1, $3, $4, $5, $6, 0, $5, 0, 0, 1, $7 FROM rollout_nodes WHERE rollout_id = $1 AND node_id = $2
         ON CONFLICT (deployment_id, node_id) DO UPDATE SET samples = EXCLUDED.samples, agreed = EXCLUDED.agreed, skipped = EXCLUDED.skipped,
            started_at = EXCLUDED.started_at, candidate_latency_ms = EXCLUDED.candidate_latency_ms`,
        [id, nodeId, version.sha256, startedAt, samples, agreed, latencyMs],
      );
    const figures = () => t.db.transaction((tx) => t.app.get(ShadowReportsRepository).waveFigures(tx, id, 0));
    const [a, b] = nodes as [string, string];
    const huge = 2_000_000_000; // two of these overflow a 32-bit sum
    await store(a, huge, huge, '2000-01-01T00:00:00Z', 1); // claims a run that started long before its dispatch
    await store(b, huge, 0, new Date().toISOString(), 3);
    let f = await figures();
    expect(f).toMatchObject({ nodes: 2, samples: 2 * huge, skipped: 2 * huge, agreement: 0.5, latencyRatio: 2 });
    const dispatchedA = dispatched.find((r) => r.nodeId === a)?.dispatchedAt as Date;
    expect(f.since?.getTime()).toBeGreaterThanOrEqual(new Date(dispatchedA).getTime());
    // A node reporting far fewer samples still counts as much as the hostile one.
    await store(b, 100, 0, new Date().toISOString(), 3);
    f = await figures();
    expect(f.agreement).toBeCloseTo(0.5, 6);
    expect(f.samples).toBe(huge + 100);
  }, 60_000);

  it('says a completed wave no node shadowed has no verdict (its nodes committed at once), instead of waiting for samples', async () => {
    const nodes = await enrolNodes(t, 1, { fleet: 'known-bytes' });
    // Simulated nodes commit whatever they are sent, as an agent that already has the bytes does.
    const fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, nodes);
    try {
      const id = await startRollout(t, { modelVersionId: version.id, selector: 'fleet=known-bytes', strategy: { shadow: { minSamples: 30 } } });
      await waitForRolloutState(t, id, ['completed'], 30_000);
      expect((await getRollout(t, id)).waves[0]?.shadow).toMatchObject({ verdict: 'none', samples: 0, reason: expect.stringMatching(/no verdict was sent to this wave's nodes/) });
    } finally {
      await fleet.stop();
    }
  }, 60_000);

  it("reads each wave's last gate verdict past the first 1,000 events, skipping abandons a stop caused", async () => {
    const [node = ''] = await enrolNodes(t, 1, { fleet: 'verdicts' });
    const id = await startRollout(t, { modelVersionId: version.id, selector: 'fleet=verdicts', strategy: { shadow: { minSamples: 1 } } }, false);
    const event = (kind: string, detail: Record<string, unknown>) => t.db.query(`INSERT INTO rollout_events (rollout_id, kind, actor, detail) VALUES ($1, $2, 'engine', $3)`, [id, kind, detail]);
    await t.db.query(`INSERT INTO rollout_events (rollout_id, kind, actor, detail) SELECT $1, 'node-failed', 'engine', jsonb_build_object('nodeId', $2::text) FROM generate_series(1, 1100)`, [id, node]);
    await event('shadow-verdict', { wave: 1, verdict: 'pass', decision: 'activate' });
    await event('shadow-verdict', { wave: 2, verdict: 'pass', decision: 'activate' });
    await event('shadow-verdict', { wave: 2, verdict: 'fail', decision: 'abandon', cause: 'stopped', reason: 'the rollout stopped' });
    await event('shadow-verdict', { wave: 3, verdict: 'fail', decision: 'abandon', reason: 'the rollout stopped' }); // written before `cause`
    await event('shadow-verdict', { wave: 4, verdict: 'fail', decision: 'abandon', cause: 'gate', reason: 'shadow gate: 3 candidate errors (max 0)' });
    expect([...(await t.app.get(RolloutViewsRepository).shadowVerdicts(id))]).toEqual([
      [0, { verdict: 'pass', reason: null }],
      [1, { verdict: 'pass', reason: null }],
      [3, { verdict: 'fail', reason: 'shadow gate: 3 candidate errors (max 0)' }],
    ]);
  }, 60_000);

  it('tells a node that timed out while shadowing to abandon, and publishes it', async () => {
    const [node = ''] = await enrolNodes(t, 1, { fleet: 'timeout' });
    // Nobody answers: the node times out and waits a long backoff, so no verdict ever reaches it.
    const id = await startRollout(t, {
      modelVersionId: version.id,
      selector: 'fleet=timeout',
      strategy: { nodeTimeoutSeconds: 1, retries: { max: 3, backoffSeconds: 3600 }, shadow: { minSamples: 1 } },
    });
    const row = await waitFor(
      async () =>
        ((await t.db.query(
          `SELECT rn.state, rn.published, dt.shadow_decision AS decision, dt.shadow_abandon_cause AS cause FROM rollout_nodes rn
             JOIN deployment_targets dt ON dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id
            WHERE rn.rollout_id = $1 AND rn.node_id = $2`,
          [id, node],
        )) as { state: string; published: boolean; decision: string | null; cause: string | null }[])[0],
      (r) => r?.state === 'retry-wait' && r.decision === 'abandon' && r.published,
      30_000,
      'the timed-out node told to abandon',
    );
    // Signed with its cause: the node says the rollout stopped waiting for it, not that the candidate failed.
    expect(row).toEqual({ state: 'retry-wait', published: true, decision: 'abandon', cause: 'timeout' });
  }, 60_000);
});
