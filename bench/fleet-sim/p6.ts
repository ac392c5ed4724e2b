/**
 * P6: heartbeat → row latency on one Mosquitto + one control plane, stepping the simulated fleet up.
 *   npm run build && nice -n 10 node dist/bench/fleet-sim/p6.js [--steps 1000,2500,5000,10000] [--workers 4] [--heartbeat 10] [--window 30] [--dynsec]
 * Per step N: N nodes (enrolled once through the API, each its own MQTT client; with --dynsec each its
 * own broker credentials and ACL, off by default: dynsec enrolment of thousands takes long, docs/scaling.md)
 * heartbeat every --heartbeat s (±20 % jitter); after one period of warm-up a window of --window s is
 * measured. Latency of a heartbeat = the row's `received_at` (its column default now(): the start of
 * the control plane's insert transaction, one clock with the simulator's, same host) minus its
 * `sent_at` (the message's `ts`, stamped by the simulator when it publishes). It omits the few ms from
 * that start to the commit, and is measured only after the simulator stopped and every heartbeat the
 * broker acknowledged is stored (none is missed as "not yet written"). Baseline in the same run: the
 * smallest step. CPU-seconds of the control-plane process (/proc/<pid>/stat) per 10,000 rows stored.
 */
import pg from 'pg';
import { parseArgs } from 'node:util';
import { waitFor } from '../../test/helpers/agent-process.js';
import { enrolFleet } from './enrol.js';
import { FleetSim } from './fleet-sim.js';
import { cpuSeconds, rssBytes } from './proc-stat.js';
import { startBenchStack } from './stack.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '1000,2500,5000,10000' },
    workers: { type: 'string', default: '4' },
    heartbeat: { type: 'string', default: '10' },
    window: { type: 'string', default: '30' },
    dynsec: { type: 'boolean', default: false },
  },
});
const steps = (values.steps ?? '').split(',').map(Number);
if (steps.some((n) => !Number.isInteger(n) || n < 1 || n > 100_000)) throw new RangeError('--steps: integers 1 … 100,000');
const workers = Math.min(16, Math.max(1, Number(values.workers)));
const periodMs = Math.min(3600, Math.max(0.5, Number(values.heartbeat))) * 1000;
const windowMs = Math.min(3600, Math.max(5, Number(values.window))) * 1000;

interface StepResult {
  nodes: number;
  rows: number;
  rowsPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  cpuPer10k: number;
  netCpuPer10k: number;
  cpRssMiB: number;
  simRssMiB: number;
  connectS: number;
}

const stack = await startBenchStack({ dynsec: values.dynsec === true });
const db = new pg.Client({ connectionString: stack.databaseUrl });
await db.connect();
const pid = stack.controlPlane.pid;
if (!pid) throw new Error('the control plane has no pid');
const storedRows = async () => Number(((await db.query('SELECT count(*) AS n FROM node_heartbeats')).rows[0] as { n: string }).n);

try {
  const largest = Math.max(...steps);
  let started = Date.now();
  const fleet = await enrolFleet(stack.controlPlane.url, stack.adminKey, largest, { sim: 'p6' });
  console.log(`enrolled ${largest} nodes through POST /v1/enroll in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const idleRss = rssBytes(pid);
  // The control plane's own background work (rollout ticks, trust reloads …) with no node traffic.
  const idleCpu0 = cpuSeconds(pid);
  const idleMs = Math.min(windowMs, 10_000);
  await new Promise((r) => setTimeout(r, idleMs)); // a measured window, not a wait for a condition
  const idleCpuPerS = (cpuSeconds(pid) - idleCpu0) / (idleMs / 1000);
  let acked = 0;
  const results: StepResult[] = [];
  for (const n of steps) {
    started = Date.now();
    const sim = await FleetSim.start({ endpoint: fleet.endpoint, nodes: fleet.nodes.slice(0, n), workers, plan: { periodMs, jitter: 0.2 } });
    const connectS = (Date.now() - started) / 1000;
    // Warm-up: every node has beaten about once (its first beat falls anywhere in one period).
    await waitFor(async () => sim.totals.sent, (sent) => sent >= n, periodMs * 3 + 30_000, 'one heartbeat per node');
    const t0 = new Date();
    const cpu0 = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, windowMs)); // the measured window itself, not a wait for a condition
    const t1 = new Date();
    const cpu1 = cpuSeconds(pid);
    const cpRss = rssBytes(pid);
    const simRss = sim.gauges().rssBytes;
    await sim.stop();
    acked += sim.totals.acked;
    const drained = await waitFor(storedRows, (rows) => rows >= acked, 120_000, 'every acknowledged heartbeat stored').then(
      () => true,
      () => false,
    );
    if (!drained) {
      // The replica did not keep up: its backlog outlived the drain bound. Larger steps would only be worse.
      console.log(`step ${n}: NOT KEPT UP — ${acked - (await storedRows())} acknowledged heartbeats still unstored 120 s after the simulator stopped`);
      break;
    }
    const { rows } = await db.query(
      `SELECT count(*)::int AS n,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
         FROM (SELECT extract(epoch FROM received_at - sent_at) * 1000 AS ms FROM node_heartbeats WHERE sent_at >= $1 AND sent_at < $2) w`,
      [t0, t1],
    );
    const r = rows[0] as { n: number; p50: number; p99: number; max: number };
    results.push({ nodes: n, rows: r.n, rowsPerS: r.n / ((t1.getTime() - t0.getTime()) / 1000), p50Ms: r.p50, p99Ms: r.p99, maxMs: Number(r.max), cpuPer10k: ((cpu1 - cpu0) / r.n) * 10_000, netCpuPer10k: ((cpu1 - cpu0 - idleCpuPerS * ((t1.getTime() - t0.getTime()) / 1000)) / r.n) * 10_000, cpRssMiB: cpRss / 2 ** 20, simRssMiB: simRss / 2 ** 20, connectS });
    console.log(`step ${n}: ${r.n} rows in the window, p99 ${r.p99.toFixed(0)} ms, ${sim.totals.failed} failed publishes`);
  }
  report(results, idleRss / 2 ** 20, idleCpuPerS);
} finally {
  await db.end();
  await stack.close();
}

function report(results: readonly StepResult[], idleRssMiB: number, idleCpuPerS: number): void {
  const base = results[0];
  if (!base) return;
  console.log(`\nP6 — heartbeat every ${periodMs / 1000} s ±20 %, window ${windowMs / 1000} s per step, ${workers} simulator workers; control plane idle: RSS ${idleRssMiB.toFixed(0)} MiB, ${idleCpuPerS.toFixed(3)} CPU-s/s`);
  console.log('nodes   rows/s  p50 ms  p99 ms  max ms  p99/base  CPU-s/10k hb (net of idle)  CP RSS MiB  sim RSS MiB  connect s');
  for (const r of results) {
    console.log(
      `${String(r.nodes).padStart(6)} ${r.rowsPerS.toFixed(0).padStart(7)} ${r.p50Ms.toFixed(0).padStart(7)} ${r.p99Ms.toFixed(0).padStart(7)} ${r.maxMs.toFixed(0).padStart(7)} ${(r.p99Ms / base.p99Ms).toFixed(2).padStart(9)} ${r.cpuPer10k.toFixed(2).padStart(12)} (${r.netCpuPer10k.toFixed(2).padStart(6)})      ${r.cpRssMiB.toFixed(0).padStart(11)} ${r.simRssMiB.toFixed(0).padStart(12)} ${r.connectS.toFixed(1).padStart(10)}`,
    );
  }
  const held = results.filter((r) => r.p99Ms <= 1000).map((r) => r.nodes);
  console.log(`largest fleet held with heartbeat → row p99 <= 1 s: ${held.length ? Math.max(...held) : 'none of the steps'}`);
  // Per 1,000 nodes: the slope between the smallest and the largest step (fixed costs cancel out).
  const last = results.at(-1);
  if (last && last.nodes > base.nodes) {
    const per1k = (a: number, b: number) => (((b - a) / (last.nodes - base.nodes)) * 1000).toFixed(1);
    console.log(`memory per 1,000 nodes (slope ${base.nodes} → ${last.nodes}): control plane ${per1k(base.cpRssMiB, last.cpRssMiB)} MiB, simulator ${per1k(base.simRssMiB, last.simRssMiB)} MiB`);
  }
}
