import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type InferenceSession, LiteRtEngine, OnnxEngine, toTfjsBundle } from '#inference';
import { accuracy, argmaxRows, CLASSES, predictAll, useWasmBackend } from './cnn.js';
import { exportOnnx } from './export-onnx.js';
import { exportTfliteFp32, exportTfliteInt8 } from './export-tflite.js';
import { loadBundle, readTrainingRecord, type TrainingRecord } from './fixture.js';
import { loadMnist } from './mnist.js';
import { calibrate, withPrunedWeights } from './optimise.js';
import { INPUT_SHAPE, modelInputs } from './preprocessing.js';
import { cnnWeights } from './weights.js';

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
}

export interface OfflineReport {
  readonly training: TrainingRecord;
  readonly testImages: number;
  readonly trainedAccuracy: number;
  readonly exports: { onnx: ExportCheck; tfliteFp32: ExportCheck; tfliteInt8: ExportCheck };
  readonly int8: { sizeRatio: number; accuracyDelta: number; latencyRatio: number; fp32MedianMs: number; int8MedianMs: number };
  readonly pruning: { sparsity: number; accuracy: number }[];
  readonly tfjsBundle: Buffer;
  readonly labels: Uint8Array;
  readonly testImagesRaw: Uint8Array;
}

const CALIBRATION_IMAGES = 1000;

/**
 * The offline half of the seed pipeline on the committed trained model: evaluate it on the 10,000 test
 * images, export ONNX and TFLite and check each against it (on the agent's own engines), quantise to
 * int8 and measure size, accuracy and latency, and measure what magnitude pruning costs.
 */
export async function runOfflinePipeline(outDir: string, log: (line: string) => void): Promise<OfflineReport> {
  await mkdir(outDir, { recursive: true });
  await useWasmBackend();
  const { train, test } = loadMnist();
  const training = await readTrainingRecord();
  const model = await loadBundle();
  const all = Array.from({ length: test.count }, (_, i) => i);
  const inputs = modelInputs(test.images, all);
  const reference = await predictAll(model, inputs, test.count);
  const trainedAccuracy = accuracy(argmaxRows(reference), test.labels);
  log(`trained model (TensorFlow.js): ${(trainedAccuracy * 100).toFixed(2)}% on ${test.count} test images`);

  const weights = cnnWeights(model);
  const check = async (name: string, file: string, bytes: Uint8Array, engine: 'onnxruntime' | 'litert'): Promise<ExportCheck & { session: InferenceSession }> => {
    const path = join(outDir, file);
    await writeFile(path, bytes);
    const session = await (engine === 'onnxruntime' ? new OnnxEngine() : new LiteRtEngine()).load(path, { engine, format: '', inputShape: [...INPUT_SHAPE] });
    const outputs = new Float32Array(test.count * CLASSES);
    for (let i = 0; i < test.count; i++) outputs.set(await session.run(inputs.subarray(i * 784, (i + 1) * 784)), i * CLASSES);
    let maxAbsDiff = 0;
    for (let i = 0; i < outputs.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs((outputs[i] as number) - (reference[i] as number)));
    const predicted = argmaxRows(outputs);
    const result = { name, engine, bytes: bytes.length, path, firstOutput: outputs.slice(0, CLASSES), maxAbsDiff, accuracy: accuracy(predicted, test.labels), classAgreement: accuracy(predicted, argmaxRows(reference)), session };
    log(`${name.padEnd(12)} ${engine.padEnd(11)} ${String(bytes.length).padStart(7)} B  accuracy ${(result.accuracy * 100).toFixed(2)}%  max|Δ| ${maxAbsDiff.toExponential(2)}  same class ${(result.classAgreement * 100).toFixed(2)}%`);
    return result;
  };

  const onnx = await check('fp32 ONNX', 'digits-fp32.onnx', exportOnnx(weights), 'onnxruntime');
  const fp32 = await check('fp32 TFLite', 'digits-fp32.tflite', exportTfliteFp32(weights), 'litert');
  const calibration = modelInputs(
    train.images,
    Array.from({ length: CALIBRATION_IMAGES }, (_, i) => i),
  );
  const ranges = calibrate(model, calibration, CALIBRATION_IMAGES, weights);
  const int8 = await check('int8 TFLite', 'digits-int8.tflite', exportTfliteInt8(weights, ranges), 'litert');

  const latency = await interleavedMedians(fp32.session, int8.session, inputs, 3000);
  const int8Report = {
    sizeRatio: int8.bytes / fp32.bytes,
    accuracyDelta: int8.accuracy - fp32.accuracy,
    latencyRatio: latency.b / latency.a,
    fp32MedianMs: latency.a,
    int8MedianMs: latency.b,
  };
  log(`int8 vs fp32 (LiteRT): size ${(int8Report.sizeRatio * 100).toFixed(1)}%, accuracy ${(int8Report.accuracyDelta * 100).toFixed(2)} points, median latency ${latency.b.toFixed(3)} vs ${latency.a.toFixed(3)} ms (${int8Report.latencyRatio.toFixed(2)}×)`);
  for (const s of [onnx, fp32, int8]) await s.session.dispose();

  const pruning: { sparsity: number; accuracy: number }[] = [];
  for (const sparsity of [0.5, 0.7, 0.8, 0.9]) {
    const acc = await withPrunedWeights(model, sparsity, async () => accuracy(argmaxRows(await predictAll(model, inputs, test.count)), test.labels));
    pruning.push({ sparsity, accuracy: acc });
    log(`magnitude pruning ${(sparsity * 100).toFixed(0)}% of weights: accuracy ${(acc * 100).toFixed(2)}%`);
  }

  const strip = ({ session: _session, ...rest }: ExportCheck & { session: InferenceSession }): ExportCheck => rest;
  return {
    training,
    testImages: test.count,
    trainedAccuracy,
    exports: { onnx: strip(onnx), tfliteFp32: strip(fp32), tfliteInt8: strip(int8) },
    int8: int8Report,
    pruning,
    tfjsBundle: await toTfjsBundle(model),
    labels: test.labels,
    testImagesRaw: test.images,
  };
}

/** Median latency of two sessions, run alternately on the same inputs so machine noise hits both. */
async function interleavedMedians(a: InferenceSession, b: InferenceSession, inputs: Float32Array, runs: number): Promise<{ a: number; b: number }> {
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
