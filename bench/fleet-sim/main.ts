/**
 * The fleet simulator's command line: enrols N nodes through the REST API, runs them in W worker
 * processes and prints the fleet's counts every second.
 *   npm run build && nice -n 10 node dist/bench/fleet-sim/main.js --nodes 10000 --workers 4 --heartbeat 10 [--jitter 0.2] [--duration 60]
 * Against a running control plane: add --api http://127.0.0.1:3000 --admin-key KEY [--broker mqtt://…]
 * (the broker URL the control plane hands out is used otherwise); without --api it starts its own
 * Mosquitto and control plane (bench/fleet-sim/stack.ts) and removes them at the end: with dynamic
 * security (each node its own credentials and ACL), or with --anonymous a broker without it (enrolment
 * is then much faster: dynsec rewrites its whole JSON file for every command, see docs/scaling.md).
 */
import { parseArgs } from 'node:util';
import { enrolFleet } from './enrol.js';
import { FleetSim, type FleetSecond } from './fleet-sim.js';
import { type BenchStack, startBenchStack } from './stack.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100' },
    workers: { type: 'string', default: '2' },
    heartbeat: { type: 'string', default: '10' },
    jitter: { type: 'string', default: '0.2' },
    duration: { type: 'string', default: '60' },
    api: { type: 'string' },
    'admin-key': { type: 'string' },
    broker: { type: 'string' },
    anonymous: { type: 'boolean', default: false },
  },
});

function bounded(name: string, raw: string | undefined, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(`--${name} must be a number in [${min}, ${max}], got ${raw}`);
  return value;
}

const nodeCount = Math.floor(bounded('nodes', values.nodes, 1, 200_000));
const workers = Math.floor(bounded('workers', values.workers, 1, 64));
const periodMs = bounded('heartbeat', values.heartbeat, 0.1, 3600) * 1000;
const jitter = bounded('jitter', values.jitter, 0, 0.9);
const durationS = bounded('duration', values.duration, 1, 86_400);

const line = (s: FleetSecond, startedAt: number) =>
  `t+${String(Math.round((s.at - startedAt) / 1000)).padStart(4)}s  connected ${String(s.connected).padStart(6)}  sent ${String(s.sent).padStart(5)}/s  acked ${String(s.acked).padStart(5)}/s  failed ${s.failed}  verified ${s.verified}  sim RSS ${(s.rssBytes / 2 ** 20).toFixed(0)} MiB`;

let stack: BenchStack | undefined;
let sim: FleetSim | undefined;
try {
  let api = values.api;
  let adminKey = values['admin-key'];
  if (!api) {
    stack = await startBenchStack({ dynsec: !values.anonymous });
    api = stack.controlPlane.url;
    adminKey = stack.adminKey;
    console.log(`started Mosquitto ${stack.broker.url} and a control plane ${api} (pid ${stack.controlPlane.pid})`);
  }
  if (!adminKey) throw new RangeError('--admin-key is required with --api');
  const enrolStart = Date.now();
  const fleet = await enrolFleet(api, adminKey, nodeCount, { sim: 'fleet-sim' }, values.broker);
  console.log(`enrolled ${nodeCount} nodes in ${((Date.now() - enrolStart) / 1000).toFixed(1)} s`);
  const startedAt = Date.now();
  sim = await FleetSim.start({ endpoint: fleet.endpoint, nodes: fleet.nodes, workers, plan: { periodMs, jitter }, onSecond: (s) => console.log(line(s, startedAt)) });
  console.log(`connected ${nodeCount} nodes in ${((Date.now() - startedAt) / 1000).toFixed(1)} s over ${workers} workers`);
  await new Promise<void>((resolveRun) => {
    const timer = setTimeout(resolveRun, durationS * 1000);
    process.once('SIGINT', () => {
      clearTimeout(timer);
      resolveRun();
    });
  });
  await sim.stop();
  const { sent, acked, failed, verified } = sim.totals;
  console.log(`totals: sent ${sent}, acked ${acked}, failed ${failed}, downloads verified ${verified}`);
} finally {
  await sim?.stop().catch(() => undefined);
  await stack?.close();
}
