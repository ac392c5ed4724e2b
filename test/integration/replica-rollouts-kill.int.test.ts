import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, getRollout, rolloutNodes, seedNodes, startRollout, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { ReplicaProcess } from '../helpers/replica-process.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const NODES_PER_ROLLOUT = 30;
/** Bounded: stop killing when both rollouts are done or after this many kills. */
const MAX_KILLS = 20;
const RUNNING = new Set(['scheduled', 'running']);

/**
 * Two full replicas (API, MQTT gateway, rollout workers) share one database, Redis prefix, broker and
 * subscription group; two rollouts run at once while replica B is SIGKILLed again and again, mid-tick
 * and mid-ingest. Replica A (this process) carries on and takes over B's jobs once their locks expire;
 * each new life of B picks its persistent session up again. Nodes are simulated over the real protocol:
 * signed desired states in, statuses out (re-sent until the control plane acknowledges them).
 */
describe('two replicas, two rollouts, one replica SIGKILLed repeatedly', () => {
  let broker: TestBroker;
  let a: TestApp;
  let b: ReplicaProcess;
  let fleet: SimulatedFleet | undefined;

  beforeAll(async () => {
    broker = await startTestBroker();
    a = await startTestApp({ MQTT_URL: broker.url, ROLLOUT_TICK_MS: '200', ROLLOUT_JOB_LOCK_MS: '1500' });
    b = new ReplicaProcess(a, broker.url, `replica-b-${randomBytes(4).toString('hex')}`, { ROLLOUT_TICK_MS: '200', ROLLOUT_JOB_LOCK_MS: '1500' });
    await createModel(a, 'kill-a', 8, 4);
    await createModel(a, 'kill-b', 8, 4);
  }, 180_000);

  afterAll(async () => {
    await b?.stop('SIGKILL');
    await fleet?.stop();
    await a?.close();
    await broker?.stop();
  });

  it('completes both rollouts, deploys every node exactly once, and stores each status once', async () => {
    const versionA = await uploadVersion(a, 'kill-a', { version: '1.0.0' }, denseSoftmaxModel(31, 8).bytes);
    const versionB = await uploadVersion(a, 'kill-b', { version: '1.0.0' }, denseSoftmaxModel(32, 8).bytes);
    // Seeded, not enrolled over HTTP: the replicas' rollouts are the point, on an anonymous broker.
    const idsA = await seedNodes(a, NODES_PER_ROLLOUT, { kill: 'a' });
    const idsB = await seedNodes(a, NODES_PER_ROLLOUT, { kill: 'b' });
    const ids = [...idsA, ...idsB];
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: a.config.mqtt.fleetNamespace }, ids);
    await b.start();
    // Waves of 2, 4, 8, 16 with a bake between them: about a minute, long enough for several kills mid-rollout
    // (a kill and a boot take 5–10 s here) while keeping CI short.
    const strategy = { waves: { exponential: { first: 2, factor: 2 } }, bakeSeconds: 12 };
    const rollouts = await Promise.all([
      startRollout(a, { modelVersionId: versionA.id, selector: 'kill=a', strategy }),
      startRollout(a, { modelVersionId: versionB.id, selector: 'kill=b', strategy }),
    ]);
    const states = async () => Promise.all(rollouts.map(async (id) => (await getRollout(a, id)).state));

    let kills = 0;
    let killedWhileRunning = 0;
    const started = Date.now();
    while (kills < MAX_KILLS) {
      // The fault's timing is the point, not a wait for a condition: each life of B gets 0.5–2 s of work
      // (ticks under a row lock, deliveries, ingest batches) before it dies wherever it is.
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1500));
      const running = (await states()).some((s) => RUNNING.has(s));
      await b.stop('SIGKILL');
      kills++;
      if (!running) break;
      killedWhileRunning++;
      await b.start();
    }
    if (!b.running) await b.start();
    const elapsedS = Math.round((Date.now() - started) / 1000);

    await waitFor(states, (s) => s.every((x) => !RUNNING.has(x)), 180_000, 'both rollouts finished');
    expect(await states()).toEqual(['completed', 'completed']);
    // Boot takes seconds on a loaded machine: demand several kills mid-rollout, not all twenty.
    expect(killedWhileRunning).toBeGreaterThanOrEqual(3);

    for (const [id, nodeIds] of [[rollouts[0] as string, idsA], [rollouts[1] as string, idsB]] as const) {
      const nodes = await rolloutNodes(a, id);
      expect(nodes).toHaveLength(NODES_PER_ROLLOUT);
      expect(nodes.filter((n) => n.state !== 'succeeded' || n.attempts !== 1)).toEqual([]);
      // Exactly one deployment per node: one target row in this rollout's deployments...
      const perNode = (await a.db.query(
        `SELECT dt.node_id, count(*)::int AS n FROM deployment_targets dt JOIN deployments d ON d.id = dt.deployment_id WHERE d.rollout_id = $1 GROUP BY dt.node_id`,
        [id],
      )) as { node_id: string; n: number }[];
      expect(perNode.filter((r) => r.n !== 1)).toEqual([]);
      expect(new Set(perNode.map((r) => r.node_id))).toEqual(new Set(nodeIds));
    }
    // ...and one desired state received by each node.
    expect(ids.filter((nodeId) => fleet?.received.get(nodeId)?.length !== 1)).toEqual([]);

    // Every node sent `received` then `committed` once (re-sent, same seq, until acknowledged): each is
    // stored once, none lost, and each target's state is the committed one.
    const statuses = (await a.db.query(
      `SELECT node_id, count(*)::int AS n, count(DISTINCT seq)::int AS seqs, string_agg(state::text, ',' ORDER BY seq) AS states
         FROM deployment_status_events WHERE node_id = ANY($1) GROUP BY node_id`,
      [ids],
    )) as { node_id: string; n: number; seqs: number; states: string }[];
    expect(statuses).toHaveLength(ids.length);
    expect(statuses.filter((s) => s.n !== 2 || s.seqs !== 2 || s.states !== 'received,committed')).toEqual([]);
    const targets = (await a.db.query(
      `SELECT dt.state::text AS state, count(*)::int AS n FROM deployment_targets dt JOIN deployments d ON d.id = dt.deployment_id WHERE d.rollout_id = ANY($1) GROUP BY dt.state`,
      [rollouts],
    )) as { state: string; n: number }[];
    expect(targets).toEqual([{ state: 'committed', n: ids.length }]);
    console.log(`replica B SIGKILLed ${kills} times (${killedWhileRunning} while the rollouts ran) in ${elapsedS} s`);
  }, 480_000);
});
