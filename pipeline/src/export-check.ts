import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type InferenceSession, LiteRtEngine, OnnxEngine } from '#inference';
import { accuracy, argmaxRows, CLASSES } from './cnn.js';
import { INPUT_SHAPE } from './preprocessing.js';
import { exportReferenceStats, writeReferenceStats } from './reference-stats.js';

export interface ExportCheck {
  readonly name: string;
  readonly engine: string;
  readonly bytes: number;
  readonly accuracy: number;
  /** Largest |Δ| of a softmax output against the trained model, over the whole test set. */
  readonly maxAbsDiff: number;
  /** Share of test images whose predicted class equals the trained model's. */
  readonly classAgreement: number;
  readonly path: string;
  /** This export's output for test image 0: the golden output of its self-test. */
  readonly firstOutput: Float32Array;
  /** Its reference statistics for drift, written next to it (reference-stats.ts); absent when the set has no raw images. */
  readonly referenceStatsPath?: string;
}

export type OpenCheck = ExportCheck & { readonly session: InferenceSession };

/** What an export is checked against: the test inputs, the trained model's softmax for them, the labels. */
export interface CheckSet {
  readonly outDir: string;
  readonly inputs: Float32Array;
  readonly reference: Float32Array;
  readonly labels: Uint8Array;
  readonly log: (line: string) => void;
  /** The test images as clients send them (bytes, 784 each), for the reference statistics. */
  readonly rawImages?: Uint8Array;
}

/** Writes an export, loads it on the agent's engine and runs every test image through it. The session stays open. */
export async function checkExport(set: CheckSet, name: string, file: string, bytes: Uint8Array, engine: 'onnxruntime' | 'litert'): Promise<OpenCheck> {
  const path = join(set.outDir, file);
  await writeFile(path, bytes);
  const session = await (engine === 'onnxruntime' ? new OnnxEngine() : new LiteRtEngine()).load(path, { engine, format: '', inputShape: [...INPUT_SHAPE] });
  const count = set.labels.length;
  const outputs = new Float32Array(count * CLASSES);
  for (let i = 0; i < count; i++) outputs.set(await session.run(set.inputs.subarray(i * 784, (i + 1) * 784)), i * CLASSES);
  let maxAbsDiff = 0;
  for (let i = 0; i < outputs.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs((outputs[i] as number) - (set.reference[i] as number)));
  const predicted = argmaxRows(outputs);
  const referenceStatsPath = set.rawImages ? await writeReferenceStats(path, exportReferenceStats(set.rawImages, 784, outputs, CLASSES)) : undefined;
  const result = { name, engine, bytes: bytes.length, path, firstOutput: outputs.slice(0, CLASSES), ...(referenceStatsPath ? { referenceStatsPath } : {}), maxAbsDiff, accuracy: accuracy(predicted, set.labels), classAgreement: accuracy(predicted, argmaxRows(set.reference)), session };
  set.log(`${name.padEnd(16)} ${engine.padEnd(11)} ${String(bytes.length).padStart(7)} B  accuracy ${(result.accuracy * 100).toFixed(2)}%  max|Δ| ${maxAbsDiff.toExponential(2)}  same class ${(result.classAgreement * 100).toFixed(2)}%`);
  return result;
}

export function closed({ session: _session, ...rest }: OpenCheck): ExportCheck {
  return rest;
}

/** Median latency of two sessions, run alternately on the same inputs so machine noise hits both. */
export async function interleavedMedians(a: InferenceSession, b: InferenceSession, inputs: Float32Array, runs: number): Promise<{ a: number; b: number }> {
  const times = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const x = inputs.subarray((i % 1000) * 784, ((i % 1000) + 1) * 784);
    for (const [key, session] of i % 2 === 0 ? ([['a', a], ['b', b]] as const) : ([['b', b], ['a', a]] as const)) {
      const start = process.hrtime.bigint();
      await session.run(x);
      times[key].push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  const median = (v: number[]) => v.sort((x, y) => x - y)[Math.floor(v.length / 2)] as number;
  return { a: median(times.a), b: median(times.b) };
}

/** b against a: size, accuracy and median latency (interleaved), as ratios. */
export interface Comparison {
  readonly sizeRatio: number;
  readonly accuracyDelta: number;
  readonly latencyRatio: number;
  readonly baseMedianMs: number;
  readonly medianMs: number;
}

export async function compare(a: OpenCheck, b: OpenCheck, inputs: Float32Array, runs = 1500): Promise<Comparison> {
  const latency = await interleavedMedians(a.session, b.session, inputs, runs);
  return { sizeRatio: b.bytes / a.bytes, accuracyDelta: b.accuracy - a.accuracy, latencyRatio: latency.b / latency.a, baseMedianMs: latency.a, medianMs: latency.b };
}

export function describeComparison(label: string, c: Comparison): string {
  return `${label}: size ${(c.sizeRatio * 100).toFixed(1)}%, accuracy ${c.accuracyDelta >= 0 ? '+' : ''}${(c.accuracyDelta * 100).toFixed(2)} points, median latency ${c.medianMs.toFixed(3)} vs ${c.baseMedianMs.toFixed(3)} ms (${c.latencyRatio.toFixed(2)}×)`;
}
