/**
 * P8: two control-plane replicas against one on the same load, in one run.
 *   npm run build && nice -n 10 node dist/bench/fleet-sim/p8.js [--nodes 2000] [--workers 4] [--heartbeat 2] [--window 30]
 * N simulated nodes (each its own MQTT client, anonymous broker) heartbeat every --heartbeat s (±20 %).
 * Phase 1: one replica takes the whole shared subscription; a window of --window s is measured. Phase 2:
 * a second replica joins the subscription group (same database, keys, queue prefix); after a warm-up the
 * same window is measured again. Reported per phase and replica: heartbeats it handled (its
 * `edgefleet_mqtt_messages_total{kind="heartbeat"}` delta), the split between the replicas, and CPU-seconds
 * per 10,000 heartbeats (/proc/<pid>/stat). At the end, with the simulator stopped: heartbeats the broker
 * acknowledged vs rows stored (lost) and messages the replicas handled beyond the acknowledged ones
 * (duplicate deliveries; the table stores each (node, seq) once whatever arrives). These machines have
 * 2 cores shared with the simulator, the broker and PostgreSQL: read the cost per message, not a speed-up.
 */
import pg from 'pg';
import { parseArgs } from 'node:util';
import { waitFor } from '../../test/helpers/agent-process.js';
import type { ReplicaProcess } from '../../test/helpers/replica-process.js';
import { enrolFleet } from './enrol.js';
import { FleetSim } from './fleet-sim.js';
import { cpuSeconds } from './proc-stat.js';
import { startBenchStack } from './stack.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '2000' },
    workers: { type: 'string', default: '4' },
    heartbeat: { type: 'string', default: '2' },
    window: { type: 'string', default: '30' },
  },
});
const nodes = Number(values.nodes);
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 100_000) throw new RangeError('--nodes: an integer 1 … 100,000');
const workers = Math.min(16, Math.max(1, Number(values.workers)));
const periodMs = Math.min(3600, Math.max(0.5, Number(values.heartbeat))) * 1000;
const windowMs = Math.min(3600, Math.max(5, Number(values.window))) * 1000;

/** Heartbeats a replica handled so far (valid messages of kind heartbeat, from its /metrics). */
async function handled(replica: ReplicaProcess): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  // Summed over every series of the counter with kind="heartbeat" (whatever default labels it carries).
  const lines = text.split('\n').filter((l) => /^edgefleet_mqtt_messages_total\{.*kind="heartbeat"/.test(l));
  return lines.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

interface Window {
  readonly replicas: { handled: number; cpu: number }[];
  readonly seconds: number;
}

/** Measures one window over `replicas`: heartbeats each handled and the CPU it used. */
async function measure(replicas: readonly ReplicaProcess[]): Promise<Window> {
  const pid = (r: ReplicaProcess) => r.pid ?? Number.NaN;
  const before = await Promise.all(replicas.map(async (r) => ({ handled: await handled(r), cpu: cpuSeconds(pid(r)) })));
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, windowMs)); // the measured window itself, not a wait for a condition
  const after = await Promise.all(replicas.map(async (r) => ({ handled: await handled(r), cpu: cpuSeconds(pid(r)) })));
  return { seconds: (Date.now() - t0) / 1000, replicas: after.map((a, i) => ({ handled: a.handled - (before[i]?.handled ?? 0), cpu: a.cpu - (before[i]?.cpu ?? 0) })) };
}

function print(name: string, w: Window): void {
  const total = w.replicas.reduce((s, r) => s + r.handled, 0);
  const cpu = w.replicas.reduce((s, r) => s + r.cpu, 0);
  const split = w.replicas.map((r) => `${((r.handled / Math.max(1, total)) * 100).toFixed(1)}%`).join(' / ');
  console.log(`${name}: ${(total / w.seconds).toFixed(0)} heartbeats/s handled; split ${split}; CPU-s per 10,000 heartbeats: total ${((cpu / Math.max(1, total)) * 10_000).toFixed(2)} (${w.replicas.map((r) => ((r.cpu / Math.max(1, r.handled)) * 10_000).toFixed(2)).join(' / ')} per replica)`);
}

const stack = await startBenchStack({ dynsec: false });
const db = new pg.Client({ connectionString: stack.databaseUrl });
await db.connect();
const stored = async () => Number(((await db.query('SELECT count(*) AS n FROM node_heartbeats')).rows[0] as { n: string }).n);
try {
  const fleet = await enrolFleet(stack.controlPlane.url, stack.adminKey, nodes, { sim: 'p8' });
  const sim = await FleetSim.start({ endpoint: fleet.endpoint, nodes: fleet.nodes, workers, plan: { periodMs, jitter: 0.2 } });
  await waitFor(async () => sim.totals.sent, (sent) => sent >= nodes, periodMs * 3 + 30_000, 'one heartbeat per node');
  const one = await measure([stack.controlPlane]);
  const second = await stack.addReplica();
  // Warm-up: the broker hands the new member of the group its turns at once; wait until it has some.
  await waitFor(() => handled(second), (n) => n >= nodes, periodMs * 3 + 60_000, 'the second replica takes its share');
  const two = await measure([stack.controlPlane, second]);
  if (process.env['P8_TRACE']) {
    // Where the time goes: per-5 s counts of each replica and the simulator, after the measured window.
    for (let i = 0; i < 6; i++) {
      const [a, b, sent] = [await handled(stack.controlPlane), await handled(second), sim.totals.acked];
      console.log(`trace: handled A ${a}, B ${b}, broker acked ${sent}, stored ${await stored()}`);
      await new Promise((r) => setTimeout(r, 5000)); // sampling interval
    }
  }
  await sim.stop();
  const acked = sim.totals.acked;
  await waitFor(stored, (rows) => rows >= acked, 120_000, 'every acknowledged heartbeat stored').catch(() => undefined);
  const rows = await stored();
  const handledTotal = (await handled(stack.controlPlane)) + (await handled(second));

  console.log(`\nP8 — ${nodes} nodes, heartbeat every ${periodMs / 1000} s ±20 %, window ${windowMs / 1000} s per phase, ${workers} simulator workers`);
  print('one replica ', one);
  print('two replicas', two);
  console.log(`acknowledged by the broker ${acked}, rows stored ${rows}: lost ${Math.max(0, acked - rows)}; handled by the replicas ${handledTotal}: duplicate deliveries ${Math.max(0, handledTotal - acked)}`);
  const cost = (w: Window) => w.replicas.reduce((s, r) => s + r.cpu, 0) / Math.max(1, w.replicas.reduce((s, r) => s + r.handled, 0));
  console.log(`CPU per heartbeat, two replicas vs one: ${(cost(two) / cost(one)).toFixed(2)}×`);
} finally {
  await db.end();
  await stack.close();
}
