import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, enrolNodes, getRollout, rolloutNodes, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { type Behaviour, SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, hardware, startTestApp, type TestApp } from '../helpers/test-app.js';

/** Rollouts over the real stack: PostgreSQL, Redis (BullMQ), Mosquitto, with simulated nodes answering. */
describe('rollouts', () => {
  let broker: TestBroker;
  let t: TestApp;
  let v1: { id: string; sha256: string };
  let v2: { id: string; sha256: string };
  let fleet: SimulatedFleet | undefined;
  let label = 0;

  /** A fresh group of nodes (own label) with a fleet answering for them. */
  const group = async (count: number, behaviour?: (nodeId: string, sha256: string) => Behaviour) => {
    const selector = `group=g${++label}`;
    const ids = await enrolNodes(t, count, { group: `g${label}` });
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids, behaviour);
    return { ids, selector, fleet };
  };
  const waitForState = (id: string, states: string[], timeoutMs?: number) => waitForRolloutState(t, id, states, timeoutMs);
  const dbCount = async (sql: string, params: unknown[]) => ((await t.db.query(sql, params)) as { n: number }[])[0]?.n;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
    await createModel(t, 'digits', 8, 4);
    v1 = await uploadVersion(t, 'digits', { version: '1.0.0' }, denseSoftmaxModel(1, 8).bytes);
    v2 = await uploadVersion(t, 'digits', { version: '2.0.0' }, denseSoftmaxModel(2, 8).bytes);
  }, 60_000);

  afterEach(async () => {
    await fleet?.stop();
    fleet = undefined;
  });

  afterAll(async () => {
    await t.close();
    await broker.stop();
  });

  it('advances a 3-wave rollout to 100 nodes wave by wave on success, each node deployed once', async () => {
    const { selector, fleet } = await group(100);
    const id = await startRollout(t, { modelVersionId: v1.id, selector, strategy: { waves: { percentages: [10, 50, 100] } } });
    const done = await waitForState(id, ['completed', 'halted']);
    expect(done.state).toBe('completed');
    expect(done.waveSizes).toEqual([10, 40, 50]);
    expect(done.waves.map((w) => w.states['succeeded'])).toEqual([10, 40, 50]);

    // Wave k+1 was only recorded (and so sent) after the control plane had every commit of wave k.
    const timeline = (await t.db.query(
      `SELECT rn.wave, min(d.created_at) AS "firstSent", max(dt.updated_at) AS "lastCommitted"
         FROM rollout_nodes rn JOIN deployments d ON d.id = rn.deployment_id
         JOIN deployment_targets dt ON dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id AND dt.state = 'committed'
        WHERE rn.rollout_id = $1 GROUP BY rn.wave ORDER BY rn.wave`,
      [id],
    )) as { firstSent: Date; lastCommitted: Date }[];
    expect(timeline).toHaveLength(3);
    for (const wave of [0, 1]) expect(timeline[wave + 1]!.firstSent.getTime()).toBeGreaterThanOrEqual(timeline[wave]!.lastCommitted.getTime());
    const nodes = await rolloutNodes(t, id);
    expect(done.events.filter((e) => e.kind === 'wave-started').map((e) => e.detail['wave'])).toEqual([1, 2, 3]);
    // Exactly one deployment per node.
    for (const n of nodes) expect(fleet.received.get(n.nodeId)).toHaveLength(1);
    expect(await dbCount(`SELECT count(*)::int AS n FROM deployment_targets dt JOIN deployments d ON d.id = dt.deployment_id WHERE d.rollout_id = $1`, [id])).toBe(100);
  });

  it('halts on failures in wave 1: no node outside wave 1 gets the version, and fleet rollback returns wave 1', async () => {
    const { ids, selector, fleet } = await group(100, (_, sha) => (sha === v2.sha256 && failed++ < 3 ? 'fail' : 'commit'));
    let failed = 0;
    const base = await startRollout(t, { modelVersionId: v1.id, selector });
    await waitForState(base, ['completed']);
    await fleet.heartbeat(() => 10); // the nodes report v1: the control plane records it as their version
    await waitFor(async () => dbCount(`SELECT count(*)::int AS n FROM nodes WHERE id = ANY($1) AND current_model_version_id = $2`, [ids, v1.id]), (n) => n === 100, 10_000, 'v1 everywhere');

    const id = await startRollout(t, {
      modelVersionId: v2.id,
      selector,
      strategy: { waves: { percentages: [10, 100] }, failureThreshold: { count: 3 }, rollbackOnHalt: true },
    });
    const halted = await waitForState(id, ['halted', 'completed']);
    expect(halted.state).toBe('halted');
    // The reason names the node failures behind the halt, not only their count.
    expect(halted.haltReason).toMatch(/^failure threshold: 3 nodes failed \(max 2\) — (node \S+: rolled-back:self-test-failed: simulated failure(; |$)){3}/);

    const nodes = await rolloutNodes(t, id);
    const wave1 = new Set(nodes.filter((n) => n.wave === 1).map((n) => n.nodeId));
    expect(wave1.size).toBe(10);
    const gotV2 = fleet.receivers(v2.sha256);
    expect(gotV2.length).toBeGreaterThan(0);
    expect(gotV2.every((nodeId) => wave1.has(nodeId))).toBe(true);
    expect(nodes.filter((n) => n.wave === 2).every((n) => n.state === 'pending')).toBe(true);

    // Fleet rollback: every wave-1 node is told to run v1 again, re-signed above v2's sequence.
    await waitFor(() => rolloutNodes(t, id), (ns) => ns.filter((n) => n.wave === 1).every((n) => n.state === 'reverted'), 20_000, 'wave 1 reverted');
    for (const nodeId of wave1) {
      const last = fleet.received.get(nodeId)?.at(-1);
      expect(last?.sha256).toBe(v1.sha256);
      expect(last?.sequence).toBeGreaterThan(2);
      expect(fleet.running.get(nodeId)?.sha256).toBe(v1.sha256);
    }
    const final = await getRollout(t, id);
    expect(final.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['halted', 'rollback-started']));
  });

  it('times out a node that never answers, retries it with backoff, then marks it failed and counts it', async () => {
    const { ids, selector } = await group(5, (nodeId) => (nodeId === silent ? 'silent' : 'commit'));
    const silent = ids[0];
    const id = await startRollout(t, {
      modelVersionId: v1.id,
      selector,
      strategy: { nodeTimeoutSeconds: 1, retries: { max: 2, backoffSeconds: 0.2 }, successThreshold: 80 },
    });
    const done = await waitForState(id, ['completed', 'halted']);
    expect(done.state).toBe('completed');
    const node = (await rolloutNodes(t, id)).find((n) => n.nodeId === silent);
    expect(node).toMatchObject({ state: 'failed', attempts: 3, reason: 'timeout' });
    expect(fleet?.received.get(silent as string)).toHaveLength(3); // three deliveries, three deployments
    expect(done.waves[0]?.states).toEqual({ succeeded: 4, failed: 1 });
    expect(done.events.filter((e) => e.kind === 'node-timed-out')).toHaveLength(2);
  });

  it('starts a scheduled rollout at its time', async () => {
    const { selector, fleet } = await group(3);
    const at = new Date(Date.now() + 2500);
    const id = await startRollout(t, { modelVersionId: v1.id, selector }, { at: at.toISOString() });
    expect((await getRollout(t, id)).state).toBe('scheduled');
    await new Promise((r) => setTimeout(r, 1500));
    expect(fleet.received.size).toBe(0);
    const done = await waitForState(id, ['completed']);
    expect(new Date(done.startedAt as string).getTime()).toBeGreaterThanOrEqual(at.getTime());
    expect(Math.min(...[...fleet.received.values()].map((l) => l[0]?.at as number))).toBeGreaterThanOrEqual(at.getTime());
  });

  it('pauses, resumes and aborts', async () => {
    const { selector, fleet } = await group(8);
    const id = await startRollout(t, { modelVersionId: v1.id, selector, strategy: { waves: { exponential: { first: 1, factor: 2 } }, bakeSeconds: 1 } }, false);
    await t.http().post(`/v1/rollouts/${id}/start`).set(bearer(t.adminKey)).send({}).expect(200);
    await waitFor(async () => fleet.received.size, (n) => n >= 1, 10_000, 'wave 1 sent');
    await t.http().post(`/v1/rollouts/${id}/pause`).set(bearer(t.adminKey)).expect(200);
    const sentWhenPaused = fleet.received.size;
    await new Promise((r) => setTimeout(r, 2500)); // longer than the bake: a running rollout would move on
    expect(fleet.received.size).toBe(sentWhenPaused);
    expect((await getRollout(t, id)).state).toBe('paused');
    await t.http().post(`/v1/rollouts/${id}/pause`).set(bearer(t.adminKey)).expect(409);

    await t.http().post(`/v1/rollouts/${id}/resume`).set(bearer(t.adminKey)).expect(200);
    await waitFor(async () => fleet.received.size, (n) => n > sentWhenPaused, 10_000, 'progress after resume');
    const aborted = await t.http().post(`/v1/rollouts/${id}/abort`).set(bearer(t.adminKey)).send({ reason: 'wrong model' }).expect(200);
    expect(aborted.body).toMatchObject({ state: 'aborted', haltReason: 'wrong model', finishedAt: expect.any(String) });
    const sentWhenAborted = fleet.received.size;
    await new Promise((r) => setTimeout(r, 2500));
    expect(fleet.received.size).toBe(sentWhenAborted);
    expect(sentWhenAborted).toBeLessThan(8);
    const problem = await t.http().post(`/v1/rollouts/${id}/resume`).set(bearer(t.adminKey)).expect(409);
    expect(problem.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  it('picks up a node enrolled after the start (continuous targeting)', async () => {
    const { selector, fleet } = await group(3);
    const id = await startRollout(t, { modelVersionId: v1.id, selector, strategy: { continuous: true } });
    await waitFor(async () => fleet.received.size, (n) => n === 3, 10_000, 'first nodes');
    const [late] = await enrolNodes(t, 1, { group: selector.split('=')[1] as string });
    fleet.add(late as string);
    await waitFor(async () => fleet.received.get(late as string)?.length ?? 0, (n) => n === 1, 10_000, 'late node reached');
    await waitFor(() => rolloutNodes(t, id), (ns) => ns.length === 4 && ns.every((n) => n.state === 'succeeded'), 10_000, 'four succeeded');
    expect((await getRollout(t, id)).state).toBe('running'); // continuous: it keeps watching
    await t.http().post(`/v1/rollouts/${id}/abort`).set(bearer(t.adminKey)).send({}).expect(200);
  });

  it('halts on the latency gate when the canary is 5x slower than the control nodes', async () => {
    const { ids, selector, fleet } = await group(20);
    const base = await startRollout(t, { modelVersionId: v1.id, selector });
    await waitForState(base, ['completed']);
    const latency = (sha: string | null) => (sha === v2.sha256 ? 50 : 10);
    const beating = setInterval(() => void fleet.heartbeat(latency).catch(() => undefined), 200);
    try {
      const id = await startRollout(t, {
        modelVersionId: v2.id,
        selector,
        strategy: { waves: { percentages: [20, 100] }, bakeSeconds: 30, healthGates: { maxLatencyP99Ratio: 2, minSamples: 100, windowSeconds: 5 } },
      });
      const halted = await waitForState(id, ['halted', 'completed'], 25_000);
      expect(halted.state).toBe('halted');
      expect(halted.haltReason).toMatch(/^latency gate: canary p99 50\.00 ms is 5\.00× control 10\.00 ms/);
      const wave2 = (await rolloutNodes(t, id)).filter((n) => n.wave === 2).map((n) => n.nodeId);
      expect(wave2).toHaveLength(16);
      expect(fleet.receivers(v2.sha256).filter((n) => wave2.includes(n))).toEqual([]);
      expect(ids.length).toBe(20);
    } finally {
      clearInterval(beating);
    }
  });

  it('waits for approval when the strategy requires it', async () => {
    const { selector, fleet } = await group(3);
    const id = await startRollout(t, { modelVersionId: v1.id, selector, strategy: { requireApproval: true } });
    expect((await getRollout(t, id)).state).toBe('awaiting-approval');
    await new Promise((r) => setTimeout(r, 1000));
    expect(fleet.received.size).toBe(0);
    const approved = await t.http().post(`/v1/rollouts/${id}/approve`).set(bearer(t.adminKey)).expect(200);
    expect(approved.body.approvedBy).toBe('bootstrap-admin');
    expect((await waitForState(id, ['completed'])).events.map((e) => e.kind)).toEqual(['created', 'awaiting-approval', 'approved', 'running', 'wave-started', 'completed']);
  });

  it('gives each node the variant its hardware calls for: int8 under a RAM bound or labelled low-power, fp32 otherwise', async () => {
    const fp32 = await uploadVersion(t, 'digits', { version: '3.0.0', variant: 'fp32' }, denseSoftmaxModel(31, 8).bytes);
    const int8 = await uploadVersion(t, 'digits', { version: '3.0.0', variant: 'int8' }, denseSoftmaxModel(32, 8).bytes);
    const small = await enrolNodes(t, 2, { group: 'variants' }, { ...hardware, ramMb: 512 });
    const lowPower = await enrolNodes(t, 2, { group: 'variants', power: 'low' });
    const regular = await enrolNodes(t, 2, { group: 'variants' });
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, [...small, ...lowPower, ...regular]);
    const variants = [{ modelVersionId: int8.id, match: { maxRamMb: 1024 } }, { modelVersionId: int8.id, match: { selector: 'power=low' } }, { modelVersionId: fp32.id }];
    const plan = await t.http().post('/v1/rollouts/dry-run').set(bearer(t.adminKey)).send({ name: 'v3', variants, selector: 'group=variants' }).expect(200);
    expect(plan.body.variants.map((v: { variant: string; nodes: number }) => [v.variant, v.nodes]).sort()).toEqual([['fp32', 2], ['int8', 4]]);
    const id = await startRollout(t, { variants, selector: 'group=variants' });
    await waitForState(id, ['completed']);
    expect(fleet.receivers(int8.sha256).sort()).toEqual([...small, ...lowPower].sort());
    expect(fleet.receivers(fp32.sha256).sort()).toEqual([...regular].sort());
  });

  it('lets nodes download outside the maintenance window but not activate, and counts their timeout from its opening', async () => {
    const { selector, fleet } = await group(3);
    const shut = { cron: '0 0 1 1 *', durationMinutes: 1, timezone: 'UTC' }; // one minute on New Year's night
    const id = await startRollout(t, { modelVersionId: v1.id, selector, strategy: { maintenanceWindow: shut, nodeTimeoutSeconds: 1 } });
    await waitFor(async () => fleet.received.size, (n) => n === 3, 10_000, 'desired states sent');
    for (const [, [desired]] of fleet.received) expect(desired?.activationWindow).toEqual(shut);
    await new Promise((r) => setTimeout(r, 2000)); // longer than the node timeout: it runs from the window's opening
    const view = await getRollout(t, id);
    expect(view.state).toBe('running');
    expect(view.waves[0]?.states).toEqual({ dispatched: 3 });
    const deadlines = (await t.db.query(`SELECT deadline_at FROM rollout_nodes WHERE rollout_id = $1`, [id])) as { deadline_at: Date }[];
    for (const { deadline_at } of deadlines) expect(deadline_at.toISOString()).toMatch(/-01-01T00:00:01\.000Z$/);
    await t.http().post(`/v1/rollouts/${id}/abort`).set(bearer(t.adminKey)).send({}).expect(200);
  });

  it('lets a newer rollout supersede an older one on the same nodes, and keeps each node\'s history', async () => {
    const { ids, selector, fleet } = await group(4, (_, sha) => (sha === v1.sha256 ? 'silent' : 'commit'));
    const older = await startRollout(t, { modelVersionId: v1.id, selector, strategy: { nodeTimeoutSeconds: 600 } });
    await waitFor(async () => fleet.receivers(v1.sha256).length, (n) => n === 4, 10_000, 'older rollout sent');
    const newer = await startRollout(t, { name: 'newer', modelVersionId: v2.id, selector });
    await waitForState(newer, ['completed']);
    const olderNodes = await rolloutNodes(t, older);
    expect(olderNodes.every((n) => n.state === 'superseded' && n.reason === `superseded by rollout ${newer}`)).toBe(true);
    const history = await t.http().get(`/v1/nodes/${ids[0]}/deployments`).set(bearer(t.adminKey)).expect(200);
    expect(history.body.map((h: { version: string; rolloutId: string; state: string | null }) => [h.version, h.rolloutId, h.state])).toEqual([
      ['2.0.0', newer, 'committed'],
      ['1.0.0', older, null],
    ]);
    expect(history.body[0].rolloutName).toBe('newer');
    const olderView = await waitForState(older, ['superseded']);
    expect(olderView.haltReason).toBe('every node moved to a newer rollout');
    await t.http().get(`/v1/nodes/00000000-0000-4000-8000-000000000000/deployments`).set(bearer(t.adminKey)).expect(404);
  });

  it('exposes rollout metrics', async () => {
    const text = (await t.http().get('/metrics').expect(200)).text;
    expect(text).toMatch(/edgefleet_rollout_transitions_total\{[^}]*to="completed"[^}]*\} [1-9]/);
    expect(text).toMatch(/edgefleet_rollout_halts_total\{[^}]*\} [1-9]/);
    expect(text).toMatch(/edgefleet_rollout_dispatches_total\{[^}]*\} [1-9]/);
    expect(text).toContain('# TYPE edgefleet_rollout_nodes gauge');
  });

  it('plans without creating anything (dry run) and refuses bad input with RFC 7807', async () => {
    const { selector } = await group(10);
    const res = await t
      .http()
      .post('/v1/rollouts/dry-run')
      .set(bearer(t.adminKey))
      .send({ name: 'plan', modelVersionId: v1.id, selector, strategy: { waves: { percentages: [10, 50] } } })
      .expect(200);
    expect(res.body.waveSizes).toEqual([1, 4, 5]);
    expect(res.body.nodes).toHaveLength(10);
    expect(res.body.variants[0]).toMatchObject({ modelVersionId: v1.id, nodes: 10 });
    expect(res.body.variants[0].bytesToNodes).toBe(10 * res.body.variants[0].artifactBytes);

    const bad = await t
      .http()
      .post('/v1/rollouts')
      .set(bearer(t.adminKey))
      .send({ name: 'bad', modelVersionId: v1.id, strategy: { waves: { percentages: [50, 10] }, nodeTimeoutSeconds: 'soon' } })
      .expect(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(bad.body)).toMatch(/strategy\.nodeTimeoutSeconds/);
  });

  it('refuses a drift gate for a version without reference statistics (it could never judge), naming the field and the fix', async () => {
    const bad = await t
      .http()
      .post('/v1/rollouts')
      .set(bearer(t.adminKey))
      .send({ name: 'blind drift gate', modelVersionId: v2.id, selector: '', strategy: { healthGates: { maxDrift: 0.5 } } })
      .expect(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(bad.body)).toMatch(/maxDrift needs reference statistics.*2\.0\.0.*--reference-stats/);
  });
});
