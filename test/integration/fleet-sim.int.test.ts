import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { enrolFleet } from '../../bench/fleet-sim/enrol.js';
import { FleetSim } from '../../bench/fleet-sim/fleet-sim.js';
import type { SimNodeIdentity } from '../../bench/fleet-sim/ipc.js';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

const NODES = 5;

/**
 * Keeps the fleet simulator (bench/fleet-sim, run by the P6 bench) from rotting: its forked workers
 * (dist/bench/fleet-sim, built by `npm run build`) enrol through the API, connect with each node's own
 * dynamic-security credentials, heartbeat, and reassemble and verify a deployed artifact.
 */
describe('fleet simulator: a handful of simulated nodes in worker processes', () => {
  let broker: TestBroker;
  let t: TestApp;
  let sim: FleetSim | undefined;
  let nodes: SimNodeIdentity[];
  const cp = { username: 'edgefleet-cp', password: randomBytes(16).toString('hex') };

  beforeAll(async () => {
    broker = await startTestBroker({ dynsec: cp });
    t = await startTestApp({ MQTT_URL: broker.url, MQTT_USERNAME: cp.username, MQTT_PASSWORD: cp.password, MQTT_DYNSEC: 'true' });
    const fleet = await enrolFleet(t.url, t.adminKey, NODES, { sim: 'yes' });
    nodes = fleet.nodes;
    sim = await FleetSim.start({ endpoint: fleet.endpoint, nodes, workers: 2, plan: { periodMs: 300, jitter: 0.2 } });
  }, 60_000);
  afterAll(async () => {
    await sim?.stop();
    await t?.close();
    await broker?.stop();
  });

  const count = async (sql: string, params: unknown[]) => Number(((await t.db.query(sql, params)) as { n: string }[])[0]?.n);

  it('enrols every node, and each heartbeats with its own credentials and shows online', async () => {
    expect(nodes).toHaveLength(NODES);
    expect(new Set(nodes.map((n) => n.username))).toEqual(new Set(nodes.map((n) => n.nodeId)));
    const ids = nodes.map((n) => n.nodeId);
    // Three beats stored from every node: the timers keep running, not only a first beat.
    await waitFor(() => count(`SELECT count(*) AS n FROM (SELECT node_id FROM node_heartbeats WHERE node_id = ANY($1) GROUP BY node_id HAVING count(*) >= 3) s`, [ids]), (n) => n === NODES, 20_000, 'three heartbeats from every node');
    const online = (await t.http().get('/v1/nodes?status=online&limit=100').set(bearer(t.adminKey)).expect(200)).body as { items: { id: string }[] };
    expect(online.items.map((n) => n.id).sort()).toEqual([...ids].sort());
    expect(sim?.totals.failed).toBe(0);
  });

  it('reassembles a deployed artifact on every node and verifies its digest', async () => {
    await createModel(t, 'sim', 4, 2);
    const version = await uploadVersion(t, 'sim', { version: '1.0.0' }, denseSoftmaxModel(3, 4, 2, { padBytes: 300 * 1024 }).bytes);
    await deploy(t, version.id, { nodeIds: nodes.map((n) => n.nodeId) });
    await waitFor(async () => sim?.totals.verified ?? 0, (n) => n === NODES, 30_000, 'every node verified the artifact');
    expect(sim?.totals.failed).toBe(0);
  });

  it('stops: every heartbeat the broker acknowledged is stored', async () => {
    const running = sim;
    if (!running) throw new Error('no simulator');
    await running.stop();
    sim = undefined;
    expect(running.totals.acked).toBeGreaterThan(0);
    expect(running.totals.acked).toBe(running.totals.sent);
    const ids = nodes.map((n) => n.nodeId);
    await waitFor(() => count(`SELECT count(*) AS n FROM node_heartbeats WHERE node_id = ANY($1)`, [ids]), (n) => n >= running.totals.acked, 10_000, 'every acknowledged heartbeat stored');
  });
});
