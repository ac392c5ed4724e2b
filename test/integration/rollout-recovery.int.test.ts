import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, getRollout, rolloutNodes, startRollout, uploadVersion, waitForRolloutState, reportRunning as reportRunningOf } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { type Behaviour, SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Everyday operations on the real stack (PostgreSQL, Redis/BullMQ, Mosquitto), with simulated nodes that
 * refuse a manifest sequence not above what they committed, as agents do: rolling back, deploying older
 * versions, and recovering failed nodes and halted rollouts.
 */
describe('rollout recovery: rollback, re-deploys, retries', () => {
  let broker: TestBroker;
  let t: TestApp;
  let fleet: SimulatedFleet | undefined;
  let seed = 100;
  let label = 0;

  const group = async (count: number, behaviour?: (nodeId: string, sha256: string) => Behaviour) => {
    const selector = `group=r${++label}`;
    const ids = await enrolNodes(t, count, { group: `r${label}` });
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids, behaviour, { antiRollback: true });
    return { ids, selector, fleet };
  };
  const upload = (model: string, version: string) => uploadVersion(t, model, { version }, denseSoftmaxModel(++seed, 8).bytes);
  const waitForState = (id: string, states: string[], timeoutMs?: number) => waitForRolloutState(t, id, states, timeoutMs);
  const targetStates = async (deploymentId: string) =>
    ((await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null; reason: string | null }[]).map(
      (x) => `${x.state}${x.reason ? `:${x.reason}` : ''}`,
    );
  const settled = (deploymentId: string) => waitFor(() => targetStates(deploymentId), (s) => s.every((x) => x !== 'null' && x !== 'received'), 20_000, 'targets settled');
  const reportRunning = (f: SimulatedFleet, ids: string[], versionId: string) => reportRunningOf(t, f, ids, versionId);
  const post = (path: string, body: Record<string, unknown> = {}) => t.http().post(path).set(bearer(t.adminKey)).send(body);

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

  it('a version uploaded before a fleet rollback stays deployable, and uploads burn no sequence', async () => {
    await createModel(t, 'seq-a', 8, 4);
    const a1 = await upload('seq-a', '1.0.0');
    const a2 = await upload('seq-a', '2.0.0');
    const { ids, selector, fleet } = await group(3, (_, sha) => (sha === a2.sha256 ? 'fail' : 'commit'));
    const first = await deploy(t, a1.id, { nodeIds: ids });
    expect(await settled(first.id)).toEqual(['committed', 'committed', 'committed']);
    await reportRunning(fleet, ids, a1.id);

    // Uploaded before the rollback and never deployed; junk uploads in between burn nothing.
    const a3 = await upload('seq-a', '3.0.0');
    for (const v of ['9.0.0', '9.0.1', '9.0.2']) await upload('seq-a', v);

    const id = await startRollout(t, { modelVersionId: a2.id, selector, strategy: { failureThreshold: { count: 1 }, rollbackOnHalt: true } });
    await waitForState(id, ['halted']);
    await waitFor(() => rolloutNodes(t, id), (ns) => ns.every((n) => n.state === 'reverted'), 20_000, 'reverted');

    const third = await deploy(t, a3.id, { nodeIds: ids });
    expect(await settled(third.id)).toEqual(['committed', 'committed', 'committed']);
    for (const nodeId of ids) {
      const sequences = (fleet.received.get(nodeId) ?? []).map((d) => d.sequence);
      // a1, a2 (refused by the self-test), a1 again, a3: each deliberate decision one number higher.
      expect(sequences).toEqual([1, 2, 3, 4]);
      expect(fleet.running.get(nodeId)?.sha256).toBe(a3.sha256);
    }
  });

  it('rolls back a completed rollout, re-deploys the newer version, then rolls out the older one again', async () => {
    await createModel(t, 'seq-b', 8, 4);
    const b1 = await upload('seq-b', '1.0.0');
    const b2 = await upload('seq-b', '2.0.0');
    const { ids, selector, fleet } = await group(2);
    const base = await startRollout(t, { modelVersionId: b1.id, selector });
    await waitForState(base, ['completed']);
    await reportRunning(fleet, ids, b1.id);
    // Nothing ran before b1: there is nothing to return to, and that can never work.
    const refused = await post(`/v1/rollouts/${base}/rollback`).expect(409);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.body.detail).toContain('earlier version');

    const upgrade = await startRollout(t, { modelVersionId: b2.id, selector });
    await waitForState(upgrade, ['completed']);
    await reportRunning(fleet, ids, b2.id);

    const rolledBack = await post(`/v1/rollouts/${upgrade}/rollback`, { reason: 'accuracy regression' }).expect(200);
    expect(rolledBack.body.state).toBe('completed');
    await waitFor(() => rolloutNodes(t, upgrade), (ns) => ns.every((n) => n.state === 'reverted'), 20_000, 'reverted');
    for (const nodeId of ids) expect(fleet.running.get(nodeId)?.sha256).toBe(b1.sha256);
    await post(`/v1/rollouts/${upgrade}/rollback`).expect(409); // once is enough
    expect((await getRollout(t, upgrade)).events.map((e) => e.kind)).toEqual(expect.arrayContaining(['rollback-requested', 'rollback-started']));
    await reportRunning(fleet, ids, b1.id);

    // The newer version again, by hand: re-issued above the rollback, so the nodes take it.
    const again = await deploy(t, b2.id, { nodeIds: ids });
    expect(await settled(again.id)).toEqual(['committed', 'committed']);
    await reportRunning(fleet, ids, b2.id);
    // And the older one by a rollout.
    const older = await startRollout(t, { modelVersionId: b1.id, selector });
    expect((await waitForState(older, ['completed', 'halted'])).state).toBe('completed');
    for (const nodeId of ids) {
      const sequences = (fleet.received.get(nodeId) ?? []).map((d) => d.sequence);
      expect(sequences).toEqual([...sequences].sort((x, y) => x - y));
      expect(new Set(sequences).size).toBe(sequences.length);
      expect(fleet.running.get(nodeId)?.sha256).toBe(b1.sha256);
    }
    await post(`/v1/rollouts/${older}/abort`).expect(409); // finished: abort is not the way back
  });

  it('names the failures behind a halt, shows each node\'s phase and detail, retries a node and resumes the halted rollout', async () => {
    await createModel(t, 'retry', 8, 4);
    const c1 = await upload('retry', '1.0.0');
    const c2 = await upload('retry', '2.0.0');
    const broken = new Set<string>();
    const { ids, selector, fleet } = await group(3, (nodeId, sha) => (sha === c2.sha256 && broken.has(nodeId) ? 'fail' : 'commit'));
    await waitForState(await startRollout(t, { modelVersionId: c1.id, selector }), ['completed']);
    await reportRunning(fleet, ids, c1.id);

    const bad = ids[0] as string;
    broken.add(bad);
    const id = await startRollout(t, { modelVersionId: c2.id, selector, strategy: { failureThreshold: { count: 1 } } });
    const halted = await waitForState(id, ['halted', 'completed']);
    expect(halted.state).toBe('halted');
    expect(halted.haltReason).toMatch(/^failure threshold: 1 nodes failed \(max 0\) — node .+: rolled-back:self-test-failed: simulated failure$/);

    const node = (await t.http().get(`/v1/rollouts/${id}/nodes`).set(bearer(t.adminKey)).expect(200)).body.find((n: { nodeId: string }) => n.nodeId === bad);
    expect(node).toMatchObject({ state: 'failed', phase: 'rolled-back', failure: { reason: 'self-test-failed', detail: 'simulated failure' } });
    const history = (await t.http().get(`/v1/nodes/${bad}/deployments`).set(bearer(t.adminKey)).expect(200)).body as { state: string; reason: string; detail: string }[];
    expect(history[0]).toMatchObject({ state: 'rolled-back', reason: 'self-test-failed', detail: 'simulated failure' });

    await post(`/v1/rollouts/${id}/nodes/${ids[1]}/retry`).expect(409); // it succeeded
    broken.clear(); // the cause is fixed
    await post(`/v1/rollouts/${id}/nodes/${bad}/retry`).expect(200);
    expect((await post(`/v1/rollouts/${id}/resume`).expect(200)).body.state).toBe('running');
    expect((await waitForState(id, ['completed', 'halted'])).state).toBe('completed');
    expect((await rolloutNodes(t, id)).find((n) => n.nodeId === bad)).toMatchObject({ state: 'succeeded', attempts: 2 });
    expect(fleet.running.get(bad)?.sha256).toBe(c2.sha256);
  });

  it('a halted rollout resumes and counts a node fixed by hand meanwhile as done, without sending it again', async () => {
    await createModel(t, 'hand', 8, 4);
    const d1 = await upload('hand', '1.0.0');
    const d2 = await upload('hand', '2.0.0');
    const broken = new Set<string>();
    const { ids, selector, fleet } = await group(2, (nodeId, sha) => (sha === d2.sha256 && broken.has(nodeId) ? 'fail' : 'commit'));
    await waitForState(await startRollout(t, { modelVersionId: d1.id, selector }), ['completed']);
    await reportRunning(fleet, ids, d1.id);
    const bad = ids[0] as string;
    broken.add(bad);
    const id = await startRollout(t, { modelVersionId: d2.id, selector, strategy: { failureThreshold: { count: 1 } } });
    await waitForState(id, ['halted']);

    broken.clear();
    const manual = await deploy(t, d2.id, { nodeIds: [bad] });
    expect(await settled(manual.id)).toEqual(['committed']);
    await reportRunning(fleet, [bad], d2.id);
    await post(`/v1/rollouts/${id}/resume`).expect(200);
    expect((await waitForState(id, ['completed', 'halted'])).state).toBe('completed');
    expect((await rolloutNodes(t, id)).find((n) => n.nodeId === bad)).toMatchObject({ state: 'succeeded', reason: 'already runs this version', attempts: 1 });
    expect(fleet.received.get(bad)?.filter((d) => d.sha256 === d2.sha256)).toHaveLength(2); // the rollout's failed attempt and the manual one
  });

  it('a node a rollout waits on that is deployed another version by hand leaves the rollout as superseded', async () => {
    await createModel(t, 'override', 8, 4);
    const f1 = await upload('override', '1.0.0');
    const f2 = await upload('override', '2.0.0');
    let stuck = '';
    const { ids, selector } = await group(3, (nodeId, sha) => (nodeId === stuck && sha === f2.sha256 ? 'silent' : 'commit'));
    stuck = ids[0] as string;
    const id = await startRollout(t, { modelVersionId: f2.id, selector });
    await waitFor(() => rolloutNodes(t, id), (ns) => ns.filter((n) => n.state === 'succeeded').length === 2, 10_000, 'the others succeeded');
    const manual = await deploy(t, f1.id, { nodeIds: [stuck] });
    expect(await settled(manual.id)).toEqual(['committed']);
    expect((await waitForState(id, ['completed', 'halted'], 10_000)).state).toBe('completed');
    expect((await rolloutNodes(t, id)).find((n) => n.nodeId === stuck)).toMatchObject({ state: 'superseded', reason: `superseded by deployment ${manual.id}` });
  });

  it('a rollout follows a deployment by hand of its own version to a node it waits on', async () => {
    await createModel(t, 'follow', 8, 4);
    const g1 = await upload('follow', '1.0.0');
    let stuck = '';
    let deliveries = 0;
    const { ids, selector } = await group(2, (nodeId) => (nodeId === stuck && deliveries++ === 0 ? 'silent' : 'commit'));
    stuck = ids[0] as string;
    const id = await startRollout(t, { modelVersionId: g1.id, selector });
    await waitFor(() => rolloutNodes(t, id), (ns) => ns.some((n) => n.state === 'succeeded'), 10_000, 'the other succeeded');
    const manual = await deploy(t, g1.id, { nodeIds: [stuck] });
    expect((await waitForState(id, ['completed', 'halted'], 10_000)).state).toBe('completed');
    const node = (await t.http().get(`/v1/rollouts/${id}/nodes`).set(bearer(t.adminKey)).expect(200)).body.find((n: { nodeId: string }) => n.nodeId === stuck);
    expect(node).toMatchObject({ state: 'succeeded', deploymentId: manual.id, phase: 'committed', attempts: 1 });
  });

  it('retries failed nodes with backoff when the strategy says so, a bounded number of times', async () => {
    await createModel(t, 'auto', 8, 4);
    const e1 = await upload('auto', '1.0.0');
    const failures = new Map<string, number>();
    let flaky = '';
    const { ids, selector } = await group(2, (nodeId) => {
      const n = (failures.get(nodeId) ?? 0) + 1;
      failures.set(nodeId, n);
      return nodeId === flaky && n > 2 ? 'commit' : 'fail';
    });
    flaky = ids[0] as string;
    const id = await startRollout(t, { modelVersionId: e1.id, selector, strategy: { retries: { max: 2, backoffSeconds: 0.2, onFailure: true }, successThreshold: 50 } });
    expect((await waitForState(id, ['completed', 'halted'])).state).toBe('completed');
    const nodes = await rolloutNodes(t, id);
    expect(nodes.find((n) => n.nodeId === flaky)).toMatchObject({ state: 'succeeded', attempts: 3 });
    expect(nodes.find((n) => n.nodeId === ids[1])).toMatchObject({ state: 'failed', attempts: 3 });
    expect(failures.get(ids[1] as string)).toBe(3); // bounded: max 2 retries
    expect((await getRollout(t, id)).events.filter((e) => e.kind === 'node-retry-scheduled')).toHaveLength(4);
  });
});
