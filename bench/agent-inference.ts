/**
 * The agent's serving path vs raw onnxruntime-node on the same model, interleaved in one run:
 *   1. p50/p99 of SessionHolder.run (preprocessing wrapper + reference counting + stats, what
 *      POST /v1/infer runs after parsing) vs `session.run` (goal <= 1.05x p50, <= 1.15x p99);
 *   2. p99 across 20 swaps (one every 50 ms) vs the same loop without swaps (goal <= 2x);
 *   3. RSS of a real agent process serving that model, started against a real control plane (goal <= 100 MB).
 *   npm run bench:build && node dist/bench/agent-inference.js [iterations=20000]
 */
import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { OnnxEngine, compilePreprocessing, SessionHolder } from '#inference';
import { InferenceStats } from '../apps/agent/src/telemetry/inference-stats.js';
import { AgentProcess, waitFor } from '../test/helpers/agent-process.js';
import { denseSoftmaxModel } from '../test/helpers/onnx-model.js';
import { createModel, deploy, uploadVersion } from '../test/helpers/fleet.js';
import { createEnrollmentToken, startTestApp } from '../test/helpers/test-app.js';
import { startTestBroker } from '../test/helpers/test-broker.js';

const ITERATIONS = Number(process.argv[2] ?? 20_000);
const INPUTS = 784;
const CLASSES = 10;

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
};
const fmt = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

const dir = await mkdtemp(join(tmpdir(), 'ef-agent-bench-'));
try {
  const model = denseSoftmaxModel(42, INPUTS, CLASSES);
  const path = join(dir, 'model.onnx');
  await writeFile(path, model.bytes);
  const input = Float32Array.from({ length: INPUTS }, (_, i) => (i % 255) / 255);

  // 1. Interleaved: raw session.run vs the agent's serving path, same model, same input.
  const raw = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  const engine = new OnnxEngine();
  const spec = { engine: 'onnxruntime', format: 'onnx', inputShape: [1, INPUTS] };
  const wrap = async () => {
    const session = await engine.load(path, spec);
    const preprocess = compilePreprocessing({}, spec.inputShape);
    return { run: (x: Float32Array) => session.run(preprocess(x)), dispose: () => session.dispose() };
  };
  const holder = new SessionHolder();
  const stats = new InferenceStats();
  const served = { sha256: 'bench', name: 'bench', version: '1', variant: 'fp32' };
  await holder.swap(await wrap(), served);
  const agentRun = async () => {
    const start = performance.now();
    const { model: m } = await holder.run(input);
    stats.record(m.sha256, true, performance.now() - start);
  };
  const rawRun = () => raw.run({ [raw.inputNames[0] as string]: new ort.Tensor('float32', input, [1, INPUTS]) });
  for (let i = 0; i < 2000; i++) {
    await rawRun();
    await agentRun();
  }
  const rawT: number[] = [];
  const agentT: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    let t = performance.now();
    await rawRun();
    rawT.push(performance.now() - t);
    t = performance.now();
    await agentRun();
    agentT.push(performance.now() - t);
  }
  console.log(`model: dense ${INPUTS}→${CLASSES} softmax (ONNX), ${ITERATIONS} interleaved runs`);
  console.log(`raw session.run       p50 ${fmt(quantile(rawT, 0.5))}  p99 ${fmt(quantile(rawT, 0.99))}`);
  console.log(`agent serving path    p50 ${fmt(quantile(agentT, 0.5))}  p99 ${fmt(quantile(agentT, 0.99))}`);
  console.log(`ratio p50 ${(quantile(agentT, 0.5) / quantile(rawT, 0.5)).toFixed(3)} (goal <= 1.05)   p99 ${(quantile(agentT, 0.99) / quantile(rawT, 0.99)).toFixed(3)} (goal <= 1.15)`);

  // 2. p99 across 20 swaps (a new session loaded and swapped in every 50 ms) vs the same loop without swaps.
  const SWAPS = 20;
  const loop = async (during: Promise<void>) => {
    const times: number[] = [];
    let done = false;
    void during.then(() => (done = true));
    while (!done) {
      const t = performance.now();
      await holder.run(input);
      times.push(performance.now() - t);
    }
    return times;
  };
  const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const steady = await loop(pause(SWAPS * 50));
  const swapping = await loop(
    (async () => {
      for (let i = 0; i < SWAPS; i++) {
        await pause(50);
        await holder.swap(await wrap(), { ...served, sha256: `bench-${i}` });
      }
    })(),
  );
  console.log(
    `across ${SWAPS} swaps     p99 ${fmt(quantile(swapping, 0.99))} (${swapping.length} runs) vs steady ${fmt(quantile(steady, 0.99))} (${steady.length} runs): ratio ${(quantile(swapping, 0.99) / quantile(steady, 0.99)).toFixed(2)} (goal <= 2)`,
  );
  await holder.close();
  await raw.release();

  // 3. A real agent process serving this model: its resident memory, with Node's defaults and with the
  // environment the systemd unit sets (read from the unit file, so the figure is the shipped one).
  const unit = await readFile('deploy/agent/edgefleet-agent.service', 'utf8');
  const unitEnv = Object.fromEntries([...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
  const unitNodeArgs = /^ExecStart=\S+node((?: --\S+)*) /m.exec(unit)?.[1]?.trim().split(' ').filter(Boolean) ?? [];
  const broker = await startTestBroker();
  const t = await startTestApp({ MQTT_URL: broker.url });
  try {
    await createModel(t, 'bench', INPUTS, CLASSES);
    const version = await uploadVersion(t, 'bench', { version: '1.0.0' }, model.bytes);
    for (const [label, env, nodeArgs] of [
      ['node defaults', {}, []],
      [`as the systemd unit runs it (${[...unitNodeArgs, ...Object.entries(unitEnv).map(([k, v]) => `${k}=${v}`)].join(' ')})`, unitEnv, unitNodeArgs],
    ] as const) {
      const { token } = await createEnrollmentToken(t);
      const agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1, seconds: 0.1 }, env, nodeArgs });
      try {
        await deploy(t, version.id, { nodeIds: [agent.nodeId] });
        await waitFor(() => agent.status(), (s) => s.model !== null && s.phase === 'idle', 30_000, 'model served');
        for (let i = 0; i < 1000; i++) await agent.infer(Array.from(input));
        const status = await readFile(`/proc/${agent.child?.pid}/status`, 'utf8');
        const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
        console.log(`agent RSS, model loaded, after 1,000 requests, ${label}: ${(rssKb / 1024).toFixed(1)} MB (goal <= 100 MB)`);
        console.log(`  breakdown (MB): ${JSON.stringify(((await agent.status()) as unknown as { memoryMb: unknown }).memoryMb)}`);
      } finally {
        await agent.remove();
      }
    }
  } finally {
    await t.close();
    await broker.stop();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
