import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, getRollout, rolloutNodes, startRollout, uploadVersion, waitForRolloutState, reportRunning as reportRunningOf } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { type Behaviour, SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * An older rollout must never undo what a newer rollout or a deployment by hand decided since: a fleet
 * rollback, a resume or a retry leaves the nodes something newer took over (marked superseded, naming
 * what they run now) and is refused when none are left. Real stack, simulated nodes that refuse a
 * sequence not above what they committed — which a re-issued old version always passes.
 */
describe('rollout takeover: old rollouts leave nodes that newer decisions took', () => {
  let broker: TestBroker;
  let t: TestApp;
  let fleet: SimulatedFleet | undefined;
  let seed = 500;
  let label = 0;

  /** Nodes labelled `grp=<group>` and `part=a` or `part=b` (`sizes` per part). */
  const group = async (sizes: { a: number; b: number }, behaviour?: (nodeId: string, sha256: string) => Behaviour) => {
    const grp = `t${++label}`;
    const a = await enrolNodes(t, sizes.a, { grp, part: 'a' });
    const b = sizes.b > 0 ? await enrolNodes(t, sizes.b, { grp, part: 'b' }) : [];
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, [...a, ...b], behaviour, { antiRollback: true });
    return { a, b, all: [...a, ...b], selector: `grp=${grp}`, selectorA: `grp=${grp},part=a`, fleet };
  };
  const upload = (model: string, version: string) => uploadVersion(t, model, { version }, denseSoftmaxModel(++seed, 8).bytes);
  const waitForState = (id: string, states: string[], timeoutMs?: number) => waitForRolloutState(t, id, states, timeoutMs);
  const committed = async (deploymentId: string, count: number) => {
    const states = async () => ((await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null }[]).map((x) => x.state);
    await waitFor(states, (s) => s.length === count && s.every((x) => x === 'committed'), 20_000, 'committed');
  };
  const reportRunning = (f: SimulatedFleet, ids: string[], versionId: string) => reportRunningOf(t, f, ids, versionId);
  const post = (path: string, body: Record<string, unknown> = {}) => t.http().post(path).set(bearer(t.adminKey)).send(body);
  const node = async (rolloutId: string, nodeId: string) => (await rolloutNodes(t, rolloutId)).find((n) => n.nodeId === nodeId);

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
  }, 60_000);

  afterEach(async () => {
    await fleet?.stop();
    fleet = undefined;
  });

  afterAll(async () => {
    await t.close();
    await broker.stop();
  });

  it('refuses to roll back a rollout whose nodes a newer rollout took over, naming it, and leaves the newer version running', async () => {
    await createModel(t, 'tk-refuse', 8, 4);
    const v100 = await upload('tk-refuse', '1.0.0');
    const v120 = await upload('tk-refuse', '1.2.0');
    const v107 = await upload('tk-refuse', '1.0.7');
    const { all, selector, fleet } = await group({ a: 1, b: 0 });
    const base = await deploy(t, v100.id, { nodeIds: all });
    await committed(base.id, 1);
    await reportRunning(fleet, all, v100.id);
    const r3 = await startRollout(t, { modelVersionId: v120.id, selector });
    await waitForState(r3, ['completed']);
    await reportRunning(fleet, all, v120.id);
    const r4 = await startRollout(t, { modelVersionId: v107.id, selector });
    await waitForState(r4, ['completed']);
    await reportRunning(fleet, all, v107.id);
    const sent = all.map((id) => fleet.received.get(id)?.length);

    const refused = await post(`/v1/rollouts/${r3}/rollback`, { reason: 'old regression' }).expect(409);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.body.detail).toContain(`now runs 1.0.7 from rollout ${r4}: roll back or deploy from there`);
    expect(all.map((id) => fleet.received.get(id)?.length)).toEqual(sent); // nothing was sent
    for (const id of all) expect(fleet.running.get(id)?.sha256).toBe(v107.sha256);
    expect((await getRollout(t, r4)).state).toBe('completed');

    // Rolling back the newer one is the way: back to 1.2.0.
    await post(`/v1/rollouts/${r4}/rollback`).expect(200);
    await waitFor(() => rolloutNodes(t, r4), (ns) => ns.every((n) => n.state === 'reverted'), 20_000, 'reverted');
    for (const id of all) expect(fleet.running.get(id)?.sha256).toBe(v120.sha256);
  });

  it('rolls back only the nodes a newer rollout did not take over; those are marked superseded with what they run now', async () => {
    await createModel(t, 'tk-partial', 8, 4);
    const v100 = await upload('tk-partial', '1.0.0');
    const v120 = await upload('tk-partial', '1.2.0');
    const v107 = await upload('tk-partial', '1.0.7');
    const { a, b, all, selector, selectorA, fleet } = await group({ a: 1, b: 1 });
    const base = await deploy(t, v100.id, { nodeIds: all });
    await committed(base.id, 2);
    await reportRunning(fleet, all, v100.id);
    const r3 = await startRollout(t, { modelVersionId: v120.id, selector });
    await waitForState(r3, ['completed']);
    await reportRunning(fleet, all, v120.id);
    const r4 = await startRollout(t, { modelVersionId: v107.id, selector: selectorA });
    await waitForState(r4, ['completed']);
    await reportRunning(fleet, a, v107.id);

    await post(`/v1/rollouts/${r3}/rollback`, { reason: 'old regression' }).expect(200);
    await waitFor(() => rolloutNodes(t, r3), (ns) => ns.every((n) => n.state === 'reverted' || n.state === 'superseded'), 20_000, 'settled');
    for (const id of a) {
      expect(await node(r3, id)).toMatchObject({ state: 'superseded', reason: `superseded: now runs 1.0.7 from rollout ${r4}` });
      expect(fleet.running.get(id)?.sha256).toBe(v107.sha256);
    }
    for (const id of b) {
      expect(await node(r3, id)).toMatchObject({ state: 'reverted' });
      expect(fleet.running.get(id)?.sha256).toBe(v100.sha256);
    }
    expect((await getRollout(t, r3)).events.map((e) => e.kind)).toEqual(expect.arrayContaining(['nodes-taken-over', 'rollback-started']));
    expect((await getRollout(t, r4)).state).toBe('completed');
  });

  it('resuming a halted rollout does not send its version again to a failed node a newer rollout has fixed', async () => {
    await createModel(t, 'tk-resume', 8, 4);
    const v1 = await upload('tk-resume', '1.0.0');
    const v2 = await upload('tk-resume', '2.0.0');
    const v3 = await upload('tk-resume', '3.0.0');
    let broken = true;
    const { a, b, all, selector, selectorA, fleet } = await group({ a: 1, b: 1 }, (nodeId, sha) => (broken && sha === v2.sha256 && a.includes(nodeId) ? 'fail' : 'commit'));
    const base = await deploy(t, v1.id, { nodeIds: all });
    await committed(base.id, 2);
    await reportRunning(fleet, all, v1.id);
    const halted = await startRollout(t, { modelVersionId: v2.id, selector, strategy: { failureThreshold: { count: 1 } } });
    await waitForState(halted, ['halted']);
    await waitFor(() => rolloutNodes(t, halted), (ns) => ns.every((n) => n.state === 'failed' || n.state === 'succeeded'), 20_000, 'nodes settled');
    broken = false; // were it sent again, the node would now take 2.0.0

    const newer = await startRollout(t, { modelVersionId: v3.id, selector: selectorA });
    await waitForState(newer, ['completed']);
    await reportRunning(fleet, a, v3.id);
    for (const id of a) expect(await node(halted, id)).toMatchObject({ state: 'superseded', reason: `superseded by rollout ${newer}` });

    await post(`/v1/rollouts/${halted}/resume`).expect(200);
    expect((await waitForState(halted, ['completed', 'halted', 'superseded'])).state).toBe('completed');
    for (const id of a) {
      expect(fleet.running.get(id)?.sha256).toBe(v3.sha256);
      expect(fleet.received.get(id)?.filter((d) => d.sha256 === v2.sha256)).toHaveLength(1); // the failed attempt only
    }
    for (const id of b) expect(fleet.running.get(id)?.sha256).toBe(v2.sha256);
  });

  it('retrying or resuming a failed node that was deployed another version by hand since is refused and sends nothing', async () => {
    await createModel(t, 'tk-retry', 8, 4);
    const v1 = await upload('tk-retry', '1.0.0');
    const v2 = await upload('tk-retry', '2.0.0');
    const v3 = await upload('tk-retry', '3.0.0');
    let broken = true;
    const { a, all, selector, fleet } = await group({ a: 1, b: 1 }, (nodeId, sha) => (broken && sha === v2.sha256 && a.includes(nodeId) ? 'fail' : 'commit'));
    const base = await deploy(t, v1.id, { nodeIds: all });
    await committed(base.id, 2);
    await reportRunning(fleet, all, v1.id);
    const halted = await startRollout(t, { modelVersionId: v2.id, selector, strategy: { failureThreshold: { count: 1 } } });
    await waitForState(halted, ['halted']);
    await waitFor(() => rolloutNodes(t, halted), (ns) => ns.every((n) => n.state === 'failed' || n.state === 'succeeded'), 20_000, 'nodes settled');
    broken = false;

    const bad = a[0] as string;
    const manual = await deploy(t, v3.id, { nodeIds: [bad] });
    await committed(manual.id, 1);
    await reportRunning(fleet, [bad], v3.id);
    expect(await node(halted, bad)).toMatchObject({ state: 'superseded', reason: `superseded by deployment ${manual.id}` });

    await post(`/v1/rollouts/${halted}/nodes/${bad}/retry`).expect(409); // not failed there any more
    // A row written before failed nodes were superseded still says failed: the retry must be refused all the same.
    await t.db.query(`UPDATE rollout_nodes SET state = 'failed', reason = 'rolled-back' WHERE rollout_id = $1 AND node_id = $2`, [halted, bad]);
    const refused = await post(`/v1/rollouts/${halted}/nodes/${bad}/retry`).expect(409);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.body.detail).toContain(`now runs 3.0.0 from deployment ${manual.id}: roll back or deploy from there`);
    // Nothing else is left to send: resume says so instead of sending 2.0.0 again.
    const stuck = await post(`/v1/rollouts/${halted}/resume`).expect(409);
    expect(stuck.body.detail).toContain(`now runs 3.0.0 from deployment ${manual.id}: roll back or deploy from there`);
    expect((await getRollout(t, halted)).state).toBe('halted');
    expect(fleet.running.get(bad)?.sha256).toBe(v3.sha256);
    expect(fleet.received.get(bad)?.filter((d) => d.sha256 === v2.sha256)).toHaveLength(1);
  });

  it('answers a rollback of a running rollout with a 409 pointing at abort, and lists rollouts in bounded pages', async () => {
    await createModel(t, 'tk-running', 8, 4);
    const v1 = await upload('tk-running', '1.0.0');
    let stuck = '';
    const { a, selector } = await group({ a: 2, b: 0 }, (nodeId) => (nodeId === stuck ? 'silent' : 'commit'));
    stuck = a[0] as string;
    const id = await startRollout(t, { modelVersionId: v1.id, selector });
    await waitFor(() => rolloutNodes(t, id), (ns) => ns.some((n) => n.state === 'succeeded'), 10_000, 'one node succeeded');
    const refused = await post(`/v1/rollouts/${id}/rollback`).expect(409);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.body.detail).toContain(`POST /v1/rollouts/${id}/abort with {"rollback": true} (CLI: edgefleet rollouts abort ${id} --rollback)`);
    await post(`/v1/rollouts/${id}/abort`, { reason: 'test over' }).expect(200);

    const list = (query: Record<string, string | number>) => t.http().get('/v1/rollouts').query(query).set(bearer(t.adminKey));
    const everything = (await list({ limit: 500 }).expect(200)).body as { id: string }[];
    expect(everything.length).toBeGreaterThan(3);
    const first = (await list({ limit: 2 }).expect(200)).body as { id: string }[];
    const second = (await list({ limit: 2, after: first[1]?.id ?? '' }).expect(200)).body as { id: string }[];
    expect([...first, ...second].map((r) => r.id)).toEqual(everything.slice(0, 4).map((r) => r.id));
    await list({ limit: 501 }).expect(400);
    await list({ limit: 0 }).expect(400);
  });
});
