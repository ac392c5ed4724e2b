/**
 * The agent's POST /v1/infer against a raw server (bench/raw-infer-server.ts: node:http + onnxruntime-node,
 * the same model, the same preprocessing, JSON in and out), in one run with alternating rounds:
 *   - the seed CNN (pipeline/fixtures, exported to ONNX as the pipeline does) deployed to a real agent
 *     through the real control plane and Mosquitto; both processes run as the systemd unit runs the agent
 *     (its NODE_OPTIONS and malloc settings, every Environment= line);
 *   - concurrency 1 and 4 over keep-alive connections; p50, p99, throughput and CPU per request (from
 *     /proc) of each, and agent/raw ratios (goals: p50 <= 1.10, p99 <= 1.25, throughput >= 0.9);
 *   - the requests are sent from a worker thread (bench/http-load.ts): this process's main thread runs the
 *     control plane, whose work would otherwise be timed as the agent's latency;
 *   - once the model serves, the control plane is stopped and bench/results-acker.ts acknowledges the
 *     agent's results and statuses instead: the agent does all of its own results work (spool, fdatasync,
 *     publish, truncation on acknowledgement), and the two cores do none of the control plane's, which on
 *     a device runs elsewhere. Ingesting the agent's ~1,500 results a second (MQTT, validation, PostgreSQL)
 *     on the same cores during agent rounds only put the agent's p99 at 1.7–2.1x the raw server's, even
 *     with the agent alone on one core (taskset) and the rest on the other. COLOCATED=1 keeps it so.
 *   npm run build && npm run bench:build && node dist/bench/agent-http.js [rounds=10] [requestsPerRound=2500]
 * The agent writes a results batch every 1,000 requests or a second after the first: a round of 2,500
 * times two batches, the last part-batch is written after it (the acker then waits for it, so no agent
 * work spills into a raw round), so about one batch in five goes untimed. Rounds of 400 requests (a
 * quarter of a second) mostly missed the batches, which hid that cost from the p99.
 * CPU per request is read from /proc for the whole process and for its main (JavaScript) thread. Wall-clock
 * and CPU figures move with the machine's load; with INSTRUCTIONS=n (e.g. 300) both servers are then run
 * again under valgrind's callgrind and their instructions per request counted (bench/callgrind.ts), a
 * figure the load does not move (slow: about a minute of CPU per 300 requests).
 * With PROFILE_DIR=<dir>, both servers write a V8 CPU profile there (open in Chrome DevTools or speedscope);
 * with LATENCY_DIR=<dir>, every request's latency in order (to see when the slow ones come); with
 * AGENT_NODE_ARGS, more node flags for the agent alone (e.g. `--trace-gc-nvp`); with EXTRA_NODE_ARGS, for both
 * (EXTRA_NODE_ARGS="--import ./dist/bench/gc-observer.js" GC_DIR=<dir>: each one's collections and pauses). With AA=1 a second raw server
 * takes the agent's place (an A/A run): the spread of its ratios is what the machine's noise alone reads.
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIGITS_PREPROCESSING, INPUT_SHAPE } from '../pipeline/src/preprocessing.js';
import { AgentProcess, waitFor } from '../test/helpers/agent-process.js';
import { deploy, uploadVersion } from '../test/helpers/fleet.js';
import { createEnrollmentToken, startTestApp } from '../test/helpers/test-app.js';
import { startTestBroker } from '../test/helpers/test-broker.js';
import { HttpLoad } from './http-load.js';
import { ResultsAcker } from './results-acker.js';
import { callgrindAvailable, callgrindPrefix, dumpCounters, type InstructionCount, zeroCounters } from './callgrind.js';
import { createDigitsModel, seedCnn } from './seed-cnn.js';

const ROUNDS = Number(process.argv[2] ?? 10);
const PER_ROUND = Number(process.argv[3] ?? 2500);
const CONCURRENCY = [1, 4];
const CLK_TCK = 100; // Linux USER_HZ
/** With INSTRUCTIONS=n, both servers are also run under callgrind: n requests counted at concurrency 1, after 2n of warm-up. */
const INSTRUCTIONS = Number(process.env['INSTRUCTIONS'] ?? 0);

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

/** The unit's environment and node flags, read from the unit file so the figures are the shipped ones. */
async function unitEnvironment(): Promise<{ env: Record<string, string>; nodeArgs: string[] }> {
  const unit = await readFile('deploy/agent/edgefleet-agent.service', 'utf8');
  const env = Object.fromEntries([...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
  const nodeArgs = /^ExecStart=\S+node((?: --\S+)*) /m.exec(unit)?.[1]?.trim().split(' ').filter(Boolean) ?? [];
  return { env, nodeArgs };
}

/** CPU seconds of the whole process, or of one of its threads (`/proc/<pid>/task/<tid>/stat`). */
async function cpuSeconds(pid: number, tid?: number): Promise<number> {
  const stat = await readFile(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
}

async function startRawServer(modelPath: string, env: Record<string, string>, nodeArgs: string[], under: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const [command = process.execPath, ...args] = [...under, process.execPath, ...nodeArgs, 'dist/bench/raw-infer-server.js', modelPath, JSON.stringify(INPUT_SHAPE)];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`raw server exited with ${code}`)));
  });
  return { child, port };
}

interface Target {
  readonly name: 'raw' | 'agent';
  readonly port: number;
  readonly pid: number;
  /** After a round, until the target's own work for it is done (the agent's last results batch acknowledged). */
  readonly settle?: () => Promise<void>;
}

/** Requests the agent answered so far (each leaves one result record: the bench's model has no results policy). */
let answeredByAgent = 0;

interface Tally {
  latencies: number[];
  seconds: number;
  cpu: number;
  /** CPU of the main (JavaScript) thread alone; the rest is ONNX Runtime's, V8's and libuv's threads. */
  cpuMain: number;
  requests: number;
}

/**
 * `count` POSTs from `concurrency` callers over keep-alive connections (on the load generator's thread,
 * off the control plane's event loop); per-request latency in ms, and the server's CPU from /proc.
 */
async function round(target: Target, body: Buffer, count: number, concurrency: number, load: HttpLoad, tally: Tally): Promise<void> {
  const cpu0 = await cpuSeconds(target.pid);
  const main0 = await cpuSeconds(target.pid, target.pid);
  const { latencies, elapsedMs } = await load.round({ port: target.port, body, count, concurrency });
  if (target.name === 'agent') answeredByAgent += count;
  await target.settle?.(); // its CPU counts, its time does not: no target's work spills into the next round
  tally.seconds += elapsedMs / 1000;
  tally.cpu += (await cpuSeconds(target.pid)) - cpu0;
  tally.cpuMain += (await cpuSeconds(target.pid, target.pid)) - main0;
  tally.requests += count;
  for (const ms of latencies) tally.latencies.push(ms);
}

/** Until every request the agent has answered is in a results batch the acker acknowledged and checked (the agent's results are not sampled here). */
function settledWith(acker: ResultsAcker): () => Promise<void> {
  return async () => {
    try {
      await waitFor(async () => acker.checkedRecords(), (records) => records >= answeredByAgent || acker.hasRefused, 30_000, "the agent's results acknowledged");
    } finally {
      acker.throwIfRefused(); // the reason, rather than the wait's timeout
    }
  };
}

/** Instructions per request of each target (callgrind; the machine's load does not move them) and their ratio. */
async function reportInstructions(targets: Target[], body: Buffer, counting: string, load: HttpLoad): Promise<void> {
  const perRequest: Partial<Record<Target['name'], InstructionCount>> = {};
  for (const target of targets) {
    const ignored = (): Tally => ({ latencies: [], seconds: 0, cpu: 0, cpuMain: 0, requests: 0 });
    await round(target, body, 2 * INSTRUCTIONS, 1, load, ignored()); // JIT warm-up: as slow in instructions as in time
    await zeroCounters(target.pid);
    await round(target, body, INSTRUCTIONS, 1, load, ignored());
    const count = await dumpCounters(target.pid, counting);
    perRequest[target.name] = { main: count.main / INSTRUCTIONS, all: count.all / INSTRUCTIONS };
  }
  const { raw: r, agent: a } = perRequest;
  if (!r || !a) throw new Error('both targets must be counted');
  const k = (n: number) => `${(n / 1000).toFixed(0)} k`;
  console.log(`instructions per request (callgrind, concurrency 1, ${INSTRUCTIONS} requests after ${2 * INSTRUCTIONS} of warm-up)`);
  console.log(`  raw    main thread ${k(r.main)}  all threads ${k(r.all)}`);
  console.log(`  agent  main thread ${k(a.main)}  all threads ${k(a.all)}`);
  console.log(`  agent/raw: main thread ${(a.main / r.main).toFixed(2)}x  all threads ${(a.all / r.all).toFixed(2)}x (ONNX Runtime's workers spin between runs: the main thread's count is the repeatable one)`);
}

if (INSTRUCTIONS > 0 && !callgrindAvailable()) throw new Error('INSTRUCTIONS needs valgrind and callgrind_control on the PATH');
const dir = await mkdtemp(join(tmpdir(), 'ef-agent-http-'));
const unitRun = await unitEnvironment();
const env = unitRun.env;
const profileDir = process.env['PROFILE_DIR'];
/** With LATENCY_DIR=<dir>, every request's latency, in order, per round and target (latencies-c<concurrency>.json). */
const dumpDir = process.env['LATENCY_DIR'];
/** AGENT_NODE_ARGS: more node flags for the agent alone (e.g. `--require <file>` to observe its GC). */
/** COLOCATED=1: the control plane keeps ingesting the agent's results on this machine during the measured rounds. */
const colocated = process.env['COLOCATED'] === '1';
/** AA=1: a second raw server stands in the agent's rounds (an A/A run): the ratios this machine reads for two identical servers. */
const aa = process.env['AA'] === '1';
/** EXTRA_NODE_ARGS: more node flags for both servers (e.g. `--require <file>` to compare their GC). */
const extraNodeArgs = process.env['EXTRA_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
const nodeArgs = [...unitRun.nodeArgs, ...extraNodeArgs, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
const broker = await startTestBroker();
const t = await startTestApp({ MQTT_URL: broker.url });
let agentProcess: AgentProcess | undefined;
let raw: ChildProcess | undefined;
let rawTwin: ChildProcess | undefined;
let acker: ResultsAcker | undefined;
let controlPlaneClosed = false;
const load = await HttpLoad.start();
try {
  const { onnxBytes: bytes, onnxPath: modelPath, image, expected } = await seedCnn(dir);
  const body = Buffer.from(JSON.stringify({ input: image }));
  await createDigitsModel(t);
  const version = await uploadVersion(t, 'digits', { version: '1.0.0', preprocessing: { ...DIGITS_PREPROCESSING }, selfTest: { input: image, expectedOutput: Array.from(expected), tolerance: 1e-4 } }, bytes);
  const { token } = await createEnrollmentToken(t);
  agentProcess = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1, seconds: 0.1 }, heartbeatSeconds: 10, env, nodeArgs: [...nodeArgs, ...(process.env['AGENT_NODE_ARGS']?.split(' ').filter(Boolean) ?? [])] });
  const deployed = agentProcess;
  await deploy(t, version.id, { nodeIds: [deployed.nodeId] });
  await waitFor(() => deployed.status(), (s) => s.model?.sha256 === version.sha256 && s.phase === 'idle', 60_000, 'model served');
  const rawServer = await startRawServer(modelPath, env, nodeArgs);
  raw = rawServer.child;

  // The control plane's ingest of the agent's results (MQTT, validation, PostgreSQL) would run on these two
  // cores during agent rounds only: replaced by an acker for the measured rounds (bench/results-acker.ts),
  // unless COLOCATED=1. Callgrind counts the agent's own instructions: the control plane stays for it.
  if (!colocated && INSTRUCTIONS === 0) {
    await t.close();
    controlPlaneClosed = true;
    acker = await ResultsAcker.start(broker.url, t.config.mqtt.fleetNamespace, deployed.nodeId);
  }
  const twin = aa ? await startRawServer(modelPath, env, nodeArgs) : undefined;
  rawTwin = twin?.child;
  const targets: Target[] = [
    { name: 'raw', port: rawServer.port, pid: rawServer.child.pid ?? 0 },
    twin
      ? { name: 'agent', port: twin.port, pid: twin.child.pid ?? 0 }
      : { name: 'agent', port: deployed.apiPort, pid: deployed.child?.pid ?? 0, ...(acker ? { settle: settledWith(acker) } : {}) },
  ];
  if (twin) console.log('A/A (AA=1): the "agent" rows below are a second raw server; the ratios are what this machine reads for identical servers');
  console.log(`seed CNN (ONNX, ${bytes.length} bytes), ${ROUNDS} alternating rounds of ${PER_ROUND} requests per target and concurrency`);
  console.log(`both servers run as the systemd unit runs the agent: ${[...nodeArgs, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ')}`);
  console.log(acker ? "the agent's results and statuses are acknowledged by bench/results-acker.ts; the control plane was stopped once the model served (COLOCATED=1 keeps it ingesting)" : 'the control plane ingests the agent\'s results on this machine during the agent rounds');
  for (const concurrency of CONCURRENCY) {
    const fresh = (): Tally => ({ latencies: [], seconds: 0, cpu: 0, cpuMain: 0, requests: 0 });
    for (const target of targets) await round(target, body, PER_ROUND, concurrency, load, fresh()); // warm-up
    const rounds: Record<Target['name'], Tally>[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const pair = { raw: fresh(), agent: fresh() };
      for (const target of r % 2 === 0 ? targets : [...targets].reverse()) await round(target, body, PER_ROUND, concurrency, load, pair[target.name]);
      rounds.push(pair);
    }
    const summary = (tallies: Tally[]) => {
      const sorted = tallies.flatMap((x) => x.latencies).sort((a, b) => a - b);
      const sum = (f: (x: Tally) => number) => tallies.reduce((n, x) => n + f(x), 0);
      return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), throughput: sum((x) => x.requests) / sum((x) => x.seconds), cpuMs: (sum((x) => x.cpu) * 1000) / sum((x) => x.requests), mainMs: (sum((x) => x.cpuMain) * 1000) / sum((x) => x.requests) };
    };
    const [r, a] = [summary(rounds.map((x) => x.raw)), summary(rounds.map((x) => x.agent))];
    if (dumpDir) await writeFile(join(dumpDir, `latencies-c${concurrency}.json`), JSON.stringify(rounds.map((x) => ({ raw: x.raw.latencies, agent: x.agent.latencies }))));
    // The machine is shared: a burst of load hits one round, not both of a pair. Ratios within each pair,
    // then their median and interquartile range, say more than one ratio of pooled figures.
    const pairs = rounds.map((x) => [summary([x.raw]), summary([x.agent])] as const);
    const ratio = (f: (s: typeof r) => number) => {
      const values = pairs.map(([raw, ag]) => f(ag) / f(raw)).sort((x, y) => x - y);
      return `${quantile(values, 0.5).toFixed(2)}x [${quantile(values, 0.25).toFixed(2)}–${quantile(values, 0.75).toFixed(2)}]`;
    };
    const line = (name: string, s: typeof r) =>
      `  ${name.padEnd(6)} p50 ${s.p50.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  ${s.throughput.toFixed(0).padStart(5)} req/s  ${s.cpuMs.toFixed(3)} ms CPU/request (main thread ${s.mainMs.toFixed(3)})`;
    console.log(`concurrency ${concurrency} (all rounds pooled)`);
    console.log(line('raw', r));
    console.log(line('agent', a));
    console.log(
      `  agent/raw pooled:              p50 ${(a.p50 / r.p50).toFixed(2)}x  p99 ${(a.p99 / r.p99).toFixed(2)}x  throughput ${(a.throughput / r.throughput).toFixed(2)}x  CPU ${(a.cpuMs / r.cpuMs).toFixed(2)}x (main thread ${(a.mainMs / r.mainMs).toFixed(2)}x)`,
    );
    console.log(
      `  agent/raw per round, median [IQR]: p50 ${ratio((s) => s.p50)} (goal <= 1.10)  p99 ${ratio((s) => s.p99)} (goal <= 1.25)  throughput ${ratio((s) => s.throughput)} (goal >= 0.9)  CPU ${ratio((s) => s.cpuMs)} (main thread ${ratio((s) => s.mainMs)})`,
    );
  }
  if (INSTRUCTIONS > 0) {
    // Both servers again, under callgrind (same state, same model, same flags): the agent restarts on its active slot.
    const counting = await mkdtemp(join(tmpdir(), 'ef-callgrind-'));
    raw.kill('SIGKILL');
    const rawCounted = await startRawServer(modelPath, env, unitRun.nodeArgs, callgrindPrefix(counting));
    raw = rawCounted.child;
    await deployed.stop();
    // Under callgrind a request takes ~100 times as long, so work done per unit of time (heartbeats with
    // their signed attestation, resends) would be charged to a few requests instead of thousands: the
    // heartbeat is pushed out of the counted window. The results ring's 250 ms flush and the deadline
    // sweep still run per unit of time, so the agent's count stays an upper bound.
    await deployed.updateConfig({ heartbeatSeconds: 3600 });
    await deployed.restart([], { under: callgrindPrefix(counting), startTimeoutMs: 600_000 });
    await waitFor(() => deployed.status(), (s) => s.model?.sha256 === version.sha256, 600_000, 'model served under callgrind');
    const counted: Target[] = [
      { name: 'raw', port: rawCounted.port, pid: rawCounted.child.pid ?? 0 },
      { name: 'agent', port: deployed.apiPort, pid: deployed.child?.pid ?? 0 },
    ];
    await reportInstructions(counted, body, counting, load);
  }
} finally {
  await load.close();
  raw?.kill(profileDir ? 'SIGINT' : 'SIGKILL');
  rawTwin?.kill('SIGKILL');
  if (profileDir) await agentProcess?.stop(); // a clean exit writes the profile
  await agentProcess?.remove();
  await acker?.stop();
  if (!controlPlaneClosed) await t.close();
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
}
