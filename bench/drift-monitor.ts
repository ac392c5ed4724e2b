/**
 * What drift costs the agent, in one run against baselines measured in the same run:
 *   1. the request path: DriftMonitor.observe per inference (a release with reference statistics) vs
 *      InferenceStats.record (the per-request telemetry every inference already pays) and vs one run of
 *      a 784-input dense ONNX model on ONNX Runtime (the smallest real inference);
 *   2. the heartbeat: DriftMonitor.score over a full window (500 MNIST-sized inputs), at the default 64
 *      values per input and at every value (784), vs the heartbeat interval (10 s by default).
 *   npm run bench:build && node dist/bench/drift-monitor.js [iterations=200000]
 */
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { computeReferenceStats } from '#protocol';
import { DEFAULT_DRIFT, DriftMonitor } from '../apps/agent/src/telemetry/drift-monitor.js';
import { InferenceStats } from '../apps/agent/src/telemetry/inference-stats.js';
import { lcg } from '../test/helpers/agent-traffic.js';
import { denseSoftmaxModel } from '../test/helpers/onnx-model.js';

const ITERATIONS = Number(process.argv[2] ?? 200_000);
const INPUTS = 784;
const rand = lcg(7);
const image = () => Float32Array.from({ length: INPUTS }, () => Math.floor(rand() * 256));
const model = { name: 'digits', version: '1.0.0', variant: 'fp32', sha256: 'a'.repeat(64) };
const reference = computeReferenceStats(Array.from({ length: 2000 }, image), Array.from({ length: 2000 }, () => 0.5 + rand() / 2), 20);
const inputs = Array.from({ length: 1000 }, image);

/** Nanoseconds per call of `f` over ITERATIONS calls (after a warm-up of a tenth). */
function perCall(f: (i: number) => void): number {
  for (let i = 0; i < ITERATIONS / 10; i++) f(i);
  const start = performance.now();
  for (let i = 0; i < ITERATIONS; i++) f(i);
  return ((performance.now() - start) * 1e6) / ITERATIONS;
}

const stats = new InferenceStats();
const monitor = new DriftMonitor(DEFAULT_DRIFT);
monitor.adopt(model, reference);
// Interleaved, three rounds each, the best of each kept: the machine is shared.
let [record, observe] = [Infinity, Infinity];
for (let round = 0; round < 3; round++) {
  record = Math.min(record, perCall((i) => stats.record(model.sha256, true, (i % 100) / 10)));
  observe = Math.min(observe, perCall((i) => monitor.observe(model, inputs[i % inputs.length] as Float32Array, 0.9)));
}

const session = await ort.InferenceSession.create(denseSoftmaxModel(42, INPUTS, 10).bytes, { intraOpNumThreads: 1 });
const runs: number[] = [];
for (let i = 0; i < 2000; i++) {
  const started = performance.now();
  await session.run({ input: new ort.Tensor('float32', inputs[i % inputs.length] as Float32Array, [1, INPUTS]) });
  runs.push((performance.now() - started) * 1e6);
}
const inferenceNs = runs.sort((a, b) => a - b)[runs.length >> 1] as number;

const scoreMs = (valuesPerInput: number) => {
  const m = new DriftMonitor({ ...DEFAULT_DRIFT, valuesPerInput });
  m.adopt(model, reference);
  for (let i = 0; i < DEFAULT_DRIFT.window; i++) m.observe(model, inputs[i % inputs.length] as Float32Array, 0.9);
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const started = performance.now();
    m.score(model);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[times.length >> 1] as number;
};
const [strided, every] = [scoreMs(DEFAULT_DRIFT.valuesPerInput), scoreMs(INPUTS)];

console.log(`request path, ${ITERATIONS} calls × 3 rounds (best round):`);
console.log(`  InferenceStats.record (baseline)   ${record.toFixed(1)} ns`);
console.log(`  DriftMonitor.observe               ${observe.toFixed(1)} ns  (${(observe / record).toFixed(2)}× record)`);
console.log(`  dense 784×10 ONNX run, p50         ${(inferenceNs / 1000).toFixed(1)} µs  (observe = ${((observe / inferenceNs) * 100).toFixed(3)}% of it)`);
console.log(`heartbeat, window ${DEFAULT_DRIFT.window} inputs of ${INPUTS} values (median of 50):`);
console.log(`  score, ${DEFAULT_DRIFT.valuesPerInput} values per input   ${strided.toFixed(2)} ms  (${((strided / 10_000) * 100).toFixed(3)}% of a 10 s heartbeat)`);
console.log(`  score, every value (784)    ${every.toFixed(2)} ms  (${(every / strided).toFixed(1)}× the strided score)`);
await session.release();
