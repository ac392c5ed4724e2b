/**
 * The seed model's deployable forms side by side, in one run, against the fp32 ONNX as baseline: bytes
 * (raw and gzip), test accuracy on the 10,000 MNIST images, and p50/p99 latency of one image on the
 * agent's engines (all sessions run round robin on the same inputs, so machine noise hits every one).
 * Also which operators ONNX Runtime turned each ONNX graph into (QLinearConv etc.: the int8 QDQ graph
 * runs integer kernels, not fake quantisation).
 *   npm run bench:build && node dist/bench/seed-variants.js [rounds=3000]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { type InferenceSession, LiteRtEngine, OnnxEngine } from '#inference';
import { runOfflinePipeline, type ExportCheck } from '../pipeline/src/pipeline.js';
import { INPUT_SHAPE, modelInputs } from '../pipeline/src/preprocessing.js';
import { loadMnist } from '../pipeline/src/mnist.js';

const ROUNDS = Number(process.argv[2] ?? 3000);

const dir = await mkdtemp(join(tmpdir(), 'ef-seed-variants-'));
try {
  const report = await runOfflinePipeline(dir, () => undefined);
  const forms: ExportCheck[] = [report.exports.onnx, report.exports.onnxInt8, report.exports.tfliteFp32, report.exports.tfliteInt8, ...(report.light ? [report.light.fp32, report.light.int8] : [])];
  const sessions = await Promise.all(forms.map((f) => open(f)));
  const { test } = loadMnist();
  const inputs = modelInputs(test.images, Array.from({ length: 1000 }, (_, i) => i));
  const times = forms.map((): number[] => []);
  for (let r = 0; r < ROUNDS; r++) {
    const x = inputs.subarray((r % 1000) * 784, ((r % 1000) + 1) * 784);
    for (let k = 0; k < sessions.length; k++) {
      const i = (k + r) % sessions.length; // rotate who goes first
      const started = process.hrtime.bigint();
      await (sessions[i] as InferenceSession).run(x);
      times[i]?.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  const base = { bytes: forms[0]?.bytes ?? 1, p50: quantile(times[0] ?? [], 0.5), p99: quantile(times[0] ?? [], 0.99) };
  const rows = await Promise.all(
    forms.map(async (f, i) => {
      const p50 = quantile(times[i] ?? [], 0.5);
      const p99 = quantile(times[i] ?? [], 0.99);
      const gzip = gzipSync(await readFile(f.path), { level: 9 }).length;
      return {
        model: f.name,
        engine: f.engine,
        bytes: f.bytes,
        'size ×': (f.bytes / base.bytes).toFixed(3),
        'gzip bytes': gzip,
        accuracy: `${(f.accuracy * 100).toFixed(2)}%`,
        'p50 ms': p50.toFixed(3),
        'p50 ×': (p50 / base.p50).toFixed(2),
        'p99 ms': p99.toFixed(3),
        'p99 ×': (p99 / base.p99).toFixed(2),
        'ORT kernels': f.engine === 'onnxruntime' ? await fusedOperators(f.path) : '',
      };
    }),
  );
  console.log(`seed model forms, ${ROUNDS} rounds, baseline ${forms[0]?.name} (p50 ${base.p50.toFixed(3)} ms); ${test.count} test images for accuracy`);
  console.table(rows);
  for (const s of sessions) await s.dispose();
} finally {
  await rm(dir, { recursive: true, force: true });
}

function open(f: ExportCheck): Promise<InferenceSession> {
  const engine = f.engine === 'onnxruntime' ? new OnnxEngine() : new LiteRtEngine();
  return engine.load(f.path, { engine: f.engine, format: '', inputShape: [...INPUT_SHAPE] });
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** The operator types of the graph ONNX Runtime runs after its optimisations (written out and read back). */
async function fusedOperators(path: string): Promise<string> {
  const optimised = `${path}.optimised.onnx`;
  const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimised, logSeverityLevel: 3 });
  await session.release();
  const model = onnxProto.onnx.ModelProto.decode(await readFile(optimised));
  const counts = new Map<string, number>();
  for (const node of model.graph?.node ?? []) counts.set(node.opType ?? '?', (counts.get(node.opType ?? '?') ?? 0) + 1);
  return [...counts].map(([op, n]) => (n > 1 ? `${op}×${n}` : op)).join(' ');
}
