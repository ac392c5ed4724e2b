/**
 * What shadow evaluation costs the request path: the agent's POST /v1/infer at concurrency 1 with shadow
 * evaluation off and on in alternating phases, on the same agent in one run (goal: p99 with shadow on <= 1.1x off).
 *   - the seed CNN (pipeline/fixtures, ONNX) serves on a real agent behind the real control plane and Mosquitto;
 *   - "on": a rollout with `strategy.shadow` sends a candidate with the same compute (the seed CNN's bytes
 *     plus a doc string, so another digest) which the agent self-tests and then shadows on `sampleRate` of
 *     the requests; `minSamples` is out of reach, so it shadows for the whole phase and never activates;
 *     each "on" phase starts once the agent has reported shadow samples (the candidate is loaded and running);
 *   - "off" phases come before the first rollout and after each abort (the agent then drops the candidate;
 *     the next rollout reuses the bytes it staged), so on and off alternate and a drift of the machine's
 *     load hits both;
 *   - the control plane runs as a process of its own (test/helpers/replica-process.ts) once the serving
 *     model is deployed, and is stopped (SIGSTOP) while a phase is measured, then continued: in production
 *     it runs on another machine, and here its rollout ticks (5 a second in the test app, each a
 *     transaction of gate queries) and its ingestion of reports shared the agent's two cores in "on"
 *     phases only. With it running, an A/A run (AA=1) read p99 1.13x [0.90-1.29] per phase, and a
 *     candidate thread that answered at once without running a model read 1.37-1.73x; stopped, A/A reads
 *     1.00x [1.00-1.07]. COLOCATED=1 keeps it running (and prints its CPU per request). The broker keeps
 *     what the agent sends meanwhile for the control plane's persistent session;
 *   - the requests are sent from a worker thread (bench/http-load.ts), as bench/agent-http.ts does;
 *   - the model's results policy is `aggregates` and the agent keeps no results (`keptResults.maxMb` 0):
 *     the results path is the same in both phases. RESULTS=all keeps every result sent and ingested.
 *   npm run build && npm run bench:build && node dist/bench/shadow-cost.js [sampleRate=0.05] [onPhases=6] [requestsPerPhase=10000] [extraUnits=0]
 * With extraUnits > 0 the candidate is slower than the serving model by that much work (a chain of
 * [1,256]x[256,256] MatMul + Tanh whose sum is multiplied by zero and added to the output: the same
 * answers); the reported latencyRatio says how much slower.
 * AA=1: A/A, the "on" phases start no rollout (the ratios are the bench's own noise).
 * Printed: p50/p99 pooled, the median and IQR of each "on" phase against the "off" phases around it, the
 * agent's CPU per request (its main thread, where requests are served, and its other threads: the
 * candidate's among them), and the shadow figures the agent reported (so "on" is known to have shadowed).
 */
import 'reflect-metadata';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import request from 'supertest';
import { DIGITS_PREPROCESSING } from '../pipeline/src/preprocessing.js';
import { AgentProcess, waitFor } from '../test/helpers/agent-process.js';
import { deploy, getRollout, startRollout, uploadVersion } from '../test/helpers/fleet.js';
import { ReplicaProcess } from '../test/helpers/replica-process.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../test/helpers/test-app.js';
import { startTestBroker } from '../test/helpers/test-broker.js';
import { HttpLoad } from './http-load.js';
import { createDigitsModel, seedCnn } from './seed-cnn.js';

const SAMPLE_RATE = Number(process.argv[2] ?? 0.05);
const ROUNDS = Number(process.argv[3] ?? 6);
const PER_ROUND = Number(process.argv[4] ?? 10_000);
const EXTRA_UNITS = Number(process.argv[5] ?? 0);
/** `all`: the agent sends every result and the control plane ingests them, in both phases (see the header). */
const SEND_RESULTS = process.env['RESULTS'] === 'all';
/** `1`: the control plane keeps running during the measured phases (see the header). */
const COLOCATED = process.env['COLOCATED'] === '1';
/** `1`: A/A — the "on" phases start no rollout, so the ratios show what this bench resolves. */
const AA = process.env['AA'] === '1';

const { onnx } = onnxProto;
const DIGITS_PIXELS = 28 * 28;

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

/** The unit's environment and node flags, read from the unit file so the figures are the shipped ones (as bench/agent-http.ts). */
async function unitEnvironment(): Promise<{ env: Record<string, string>; nodeArgs: string[] }> {
  const unit = await readFile('deploy/agent/edgefleet-agent.service', 'utf8');
  const env = Object.fromEntries([...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
  const nodeArgs = /^ExecStart=\S+node((?: --\S+)*) /m.exec(unit)?.[1]?.trim().split(' ').filter(Boolean) ?? [];
  return { env, nodeArgs };
}

const CLK_TCK = 100; // Linux USER_HZ

/** The process's resident memory (VmRSS) in MB. */
async function residentMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU seconds (user + system) in a /proc stat file (a process's, or one thread's). */
async function statSeconds(path: string): Promise<number> {
  const stat = await readFile(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds of the process's main thread (where requests are served) and of all its other threads. */
async function threadSeconds(pid: number): Promise<{ main: number; others: number }> {
  const seconds = { main: 0, others: 0 };
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const secs = await statSeconds(`/proc/${pid}/task/${tid}/stat`).catch(() => 0); // a thread that just ended
    seconds[tid === String(pid) ? 'main' : 'others'] += secs;
  }
  return seconds;
}

/** CPU seconds (user + system) the process has used so far, all its threads (ended ones too). */
async function cpuSeconds(pid: number): Promise<number> {
  return statSeconds(`/proc/${pid}/stat`);
}

/** The model with `units` of work added that does not change its output (see the header). */
function slowedDown(model: Buffer, units: number): Buffer {
  const decoded = onnx.ModelProto.decode(model);
  const graph = decoded.graph as InstanceType<typeof onnx.GraphProto>;
  const input = graph.input[0]?.name as string;
  const output = graph.output[0]?.name as string;
  const width = 256;
  const size = DIGITS_PIXELS;
  let state = 1;
  const rand = (n: number) => Float32Array.from({ length: n }, () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5) / 8);
  const tensor = (name: string, dims: number[], data: Float32Array) => onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer.slice(0)) });
  const node = (opType: string, inputs: string[], out: string) => onnx.NodeProto.create({ opType, input: inputs, output: [out] });
  for (const n of graph.node) n.output = (n.output ?? []).map((o) => (o === output ? `${output}_before_extra` : o));
  const chain = [node('Reshape', [input, 'extra_shape'], 'extra_flat'), node('MatMul', ['extra_flat', 'extra_P'], 'extra_h0_'), node('Tanh', ['extra_h0_'], 'extra_h0')];
  for (let i = 1; i <= units; i++) chain.push(node('MatMul', [`extra_h${i - 1}`, 'extra_Q'], `extra_h${i}_`), node('Tanh', [`extra_h${i}_`], `extra_h${i}`));
  chain.push(node('ReduceSum', [`extra_h${units}`], 'extra_total'), node('Mul', ['extra_total', 'extra_zero'], 'extra_nothing'), node('Add', [`${output}_before_extra`, 'extra_nothing'], output));
  graph.node.push(...chain);
  graph.initializer.push(
    onnx.TensorProto.create({ name: 'extra_shape', dims: [2], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1, size] }),
    tensor('extra_P', [size, width], rand(size * width)),
    tensor('extra_Q', [width, width], rand(width * width)),
    tensor('extra_zero', [1], new Float32Array(1)),
  );
  return Buffer.from(onnx.ModelProto.encode(decoded).finish());
}

/** The same bytes plus a ModelProto doc_string (field 6): identical compute, another digest. */
function withDocString(onnx: Buffer, text: string): Buffer {
  const value = Buffer.from(text);
  return Buffer.concat([onnx, Buffer.from([(6 << 3) | 2, value.length]), value]);
}

const dir = await mkdtemp(join(tmpdir(), 'ef-shadow-cost-'));
const { env, nodeArgs } = await unitEnvironment();
const broker = await startTestBroker();
const t = await startTestApp({ MQTT_URL: broker.url });
let agentProcess: AgentProcess | undefined;
let controlPlane: ReplicaProcess | undefined;
const load = await HttpLoad.start();
/** `count` sequential POSTs over one keep-alive connection, sent from the load generator's own thread; latencies in ms. */
const round = async (port: number, body: Buffer, count: number): Promise<number[]> => Array.from((await load.round({ port, body, count, concurrency: 1 })).latencies);
try {
  const { onnxBytes, image, expected } = await seedCnn(dir);
  const body = Buffer.from(JSON.stringify({ input: image }));
  await createDigitsModel(t);
  if (!SEND_RESULTS) await t.http().put('/v1/models/digits/results-policy').set(bearer(t.adminKey)).send({ mode: 'aggregates' }).expect(200);
  const fields = (version: string) => ({ version, preprocessing: { ...DIGITS_PREPROCESSING }, selfTest: { input: image, expectedOutput: Array.from(expected), tolerance: 1e-4 } });
  const serving = await uploadVersion(t, 'digits', fields('1.0.0'), onnxBytes);
  const candidateBytes = EXTRA_UNITS > 0 ? slowedDown(onnxBytes, EXTRA_UNITS) : withDocString(onnxBytes, 'shadow candidate');
  const candidate = await uploadVersion(t, 'digits', fields('1.1.0'), candidateBytes);
  const { token } = await createEnrollmentToken(t);
  agentProcess = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1, seconds: 0.1 }, heartbeatSeconds: 2, env, nodeArgs, ...(SEND_RESULTS ? {} : { config: { keptResults: { maxMb: 0 } } }) });
  const node = agentProcess;
  await deploy(t, serving.id, { nodeIds: [node.nodeId] });
  await waitFor(() => node.status(), (s) => s.model?.sha256 === serving.sha256 && s.phase === 'idle', 60_000, 'model served');
  // From here the control plane is a process of its own on the same database, keys and broker group (this
  // process's app stops), so that it can be stopped while a phase is measured: in production it runs on
  // another machine, here its rollout ticks, gate queries and report ingestion would share the agent's two
  // cores in "on" phases only. The broker keeps what the agent sends meanwhile for its persistent session.
  await t.app.close();
  controlPlane = new ReplicaProcess(t, broker.url, `shadow-cost-cp-${process.pid}`, { ADMIN_API_KEY: t.adminKey });
  await controlPlane.start();
  // Interrupted mid-phase, `finally` does not run: a control plane left stopped (SIGSTOP) would linger.
  process.once('SIGINT', () => {
    if (controlPlane?.pid) process.kill(controlPlane.pid, 'SIGKILL');
    process.exit(130);
  });
  const cp: TestApp = { ...t, url: controlPlane.url, http: () => request(controlPlane?.url ?? '') };

  await round(node.apiPort, body, PER_ROUND); // warm-up
  // Alternating phases, off first and last: each "on" is a new rollout of the candidate (the agent reuses
  // the bytes it staged, self-tests and shadows), each "off" follows its abort (the agent drops it).
  // CPU per request of the agent's process in each kind of phase: a cost the machine's load moves far less than p99.
  const pid = node.child?.pid ?? 0;
  const cpu = { off: 0, on: 0 };
  // The control plane's CPU in each kind of phase (with COLOCATED=1: its work on the rollout and the shadow reports).
  const cpCpu = { off: 0, on: 0 };
  const rssMb = { off: 0, on: 0 };
  const measured = async (kind: 'off' | 'on') => {
    const cpPid = controlPlane?.pid as number;
    if (!COLOCATED) process.kill(cpPid, 'SIGSTOP');
    try {
      return await measuredRound(kind);
    } finally {
      if (!COLOCATED) process.kill(cpPid, 'SIGCONT');
    }
  };
  // Split by thread: the main thread serves; the others are the candidate's (a new one each phase), V8's and libuv's.
  const threadCpu = { off: { main: 0, others: 0 }, on: { main: 0, others: 0 } };
  const measuredRound = async (kind: 'off' | 'on') => {
    const threadsBefore = await threadSeconds(pid);
    const before = await cpuSeconds(pid);
    const cpBefore = await cpuSeconds(controlPlane?.pid as number);
    const latencies = await round(node.apiPort, body, PER_ROUND);
    cpu[kind] += (await cpuSeconds(pid)) - before;
    const threadsAfter = await threadSeconds(pid);
    threadCpu[kind].main += threadsAfter.main - threadsBefore.main;
    // A candidate thread that ended during the phase takes its seconds with it: "others" reads low, never high.
    threadCpu[kind].others += Math.max(0, threadsAfter.others - threadsBefore.others);
    cpCpu[kind] += (await cpuSeconds(controlPlane?.pid as number)) - cpBefore;
    rssMb[kind] = Math.max(rssMb[kind], await residentMb(pid));
    return latencies;
  };
  const offs: number[][] = [await measured('off')];
  const ons: number[][] = [];
  const figures: unknown[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (AA) {
      // A/A: an "on" phase like the others (the same warm-up rounds before it) but without a rollout.
      for (let i = 0; i < 4; i++) await round(node.apiPort, body, 50);
      ons.push(await measured('on'));
      offs.push(await measured('off'));
      continue;
    }
    const rolloutId = await startRollout(cp, { name: `shadow-cost-${r}`, modelVersionId: candidate.id, selector: '', strategy: { shadow: { sampleRate: SAMPLE_RATE, minSamples: 1_000_000 } } });
    await waitFor(() => node.status(), (s) => s.phase === 'shadowing', 60_000, 'shadowing');
    const shadowOf = async () => ((await getRollout(cp, rolloutId)) as unknown as { waves: { shadow?: { samples: number; skipped: number } }[] }).waves[0]?.shadow;
    // The phase is reported before the candidate is ready to run (an agent loads it on its own thread
    // first): warm up until a report counts samples, so "on" measures shadowing, not its one-off start.
    const warm = await waitFor(
      async () => {
        await round(node.apiPort, body, 50);
        return shadowOf();
      },
      (f) => (f?.samples ?? 0) > 0,
      30_000,
      'the first shadow samples',
    );
    ons.push(await measured('on'));
    // Reports come with the heartbeat interval: wait for one sent after the phase (a busy machine gives
    // the candidate few samples: its thread only gets the CPU nothing else wants).
    figures.push(await waitFor(shadowOf, (f) => (f?.samples ?? 0) > (warm?.samples ?? 0) && (f?.samples ?? 0) + (f?.skipped ?? 0) >= SAMPLE_RATE * PER_ROUND * 0.8, 30_000, "a shadow report with this phase's samples"));
    await cp.http().post(`/v1/rollouts/${rolloutId}/abort`).set(bearer(t.adminKey)).send({ reason: 'bench phase done' }).expect(200);
    await waitFor(() => node.status(), (s) => s.phase === 'idle', 60_000, 'candidate abandoned');
    offs.push(await measured('off'));
  }

  const sorted = (xs: number[][]) => xs.flat().sort((a, b) => a - b);
  const [off, on] = [sorted(offs), sorted(ons)];
  const cpuMs = (kind: 'off' | 'on', requests: number) => (cpu[kind] * 1000) / requests;
  const line = (name: string, s: number[], kind: 'off' | 'on') =>
    `  ${name.padEnd(10)} p50 ${quantile(s, 0.5).toFixed(3)} ms  p90 ${quantile(s, 0.9).toFixed(3)} ms  p99 ${quantile(s, 0.99).toFixed(3)} ms  ${cpuMs(kind, s.length).toFixed(3)} ms agent CPU/request  (${s.length} requests)`;
  // The machine is shared: a burst of load hits one phase, not its neighbours. Each "on" phase against
  // the two "off" phases around it, then the median and interquartile range of those ratios.
  const p99 = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.99);
  const p50 = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);
  const perPhase = (q: (xs: number[]) => number) => {
    const values = ons.map((o, i) => q(o) / q([...(offs[i] ?? []), ...(offs[i + 1] ?? [])])).sort((a, b) => a - b);
    return `${quantile(values, 0.5).toFixed(2)}x [${quantile(values, 0.25).toFixed(2)}–${quantile(values, 0.75).toFixed(2)}]`;
  };
  console.log(`seed CNN (ONNX, ${onnxBytes.length} bytes) on one agent, concurrency 1; ${ROUNDS} shadow-on phases between ${ROUNDS + 1} off phases of ${PER_ROUND} requests; sampleRate ${SAMPLE_RATE}`);
  if (AA) console.log('A/A: the "on" phases shadow nothing (AA=1); their ratios to "off" are this bench\'s noise');
  console.log(COLOCATED ? 'the control plane ran on these cores during the measured phases (COLOCATED=1)' : 'the control plane (its own process) was stopped (SIGSTOP) during each measured phase');
  console.log(SEND_RESULTS ? 'results: every result sent and ingested in both phases (RESULTS=all)' : 'results: none sent or kept in either phase (policy aggregates; RESULTS=all sends them)');
  console.log(line('shadow off', off, 'off'));
  console.log(line('shadow on', on, 'on'));
  console.log(
    `  on/off pooled: p50 ${(quantile(on, 0.5) / quantile(off, 0.5)).toFixed(2)}x  p90 ${(quantile(on, 0.9) / quantile(off, 0.9)).toFixed(2)}x  p99 ${(quantile(on, 0.99) / quantile(off, 0.99)).toFixed(2)}x  agent CPU/request ${(cpuMs('on', on.length) / cpuMs('off', off.length)).toFixed(2)}x`,
  );
  console.log(`  on/off per phase, median [IQR]: p50 ${perPhase(p50)}  p99 ${perPhase(p99)} (goal p99 <= 1.10x)`);
  const perRequest = (kind: 'off' | 'on', requests: number) => `main thread ${((threadCpu[kind].main * 1000) / requests).toFixed(3)} ms, other threads ${((threadCpu[kind].others * 1000) / requests).toFixed(3)} ms`;
  console.log(`  agent CPU/request by thread: off ${perRequest('off', off.length)}; on ${perRequest('on', on.length)}`);
  if (COLOCATED) console.log(`  control plane CPU/request: off ${((cpCpu.off * 1000) / off.length).toFixed(3)} ms, on ${((cpCpu.on * 1000) / on.length).toFixed(3)} ms`);
  console.log(`  agent RSS, the largest at the end of a phase: off ${rssMb.off.toFixed(1)} MB, on ${rssMb.on.toFixed(1)} MB`);
  console.log(`  shadow figures the agent reported in each "on" phase: ${JSON.stringify(figures)}`);
} finally {
  await load.close();
  await agentProcess?.remove();
  await controlPlane?.stop('SIGTERM');
  await t.close();
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
}
