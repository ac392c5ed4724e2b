import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import type * as tf from '@tensorflow/tfjs';
import { toTfjsBundle } from '#inference';
import { calibrateLayers } from './calibrate-layers.js';
import { accuracy, argmaxRows, predictAll, useWasmBackend } from './cnn.js';
import { type CheckSet, checkExport, closed, compare, type Comparison, describeComparison, type ExportCheck, type OpenCheck } from './export-check.js';
import { exportOnnx } from './export-onnx.js';
import { exportOnnxLayers } from './export-onnx-layers.js';
import { exportTfliteFp32, exportTfliteInt8 } from './export-tflite.js';
import { FIXTURE, fixturePaths, loadBundle, readTrainingRecord, type TrainingRecord } from './fixture.js';
import { type DigitSet, loadMnist } from './mnist.js';
import { modelLayers, parameterCount } from './model-layers.js';
import { calibrate, withPrunedWeights } from './optimise.js';
import { modelInputs } from './preprocessing.js';
import { cnnWeights } from './weights.js';

export type { Comparison, ExportCheck } from './export-check.js';

/** The depthwise-separable variant (light-cnn.ts), when its fixture is there. */
export interface LightReport {
  readonly training: TrainingRecord;
  readonly parameters: number;
  readonly seedParameters: number;
  readonly trainedAccuracy: number;
  readonly fp32: ExportCheck;
  readonly int8: ExportCheck;
  /** Against the seed CNN's fp32 ONNX, and its int8 ONNX against the seed's int8 ONNX. */
  readonly vsSeed: Comparison;
  readonly int8VsSeedInt8: Comparison;
}

export interface OfflineReport {
  readonly training: TrainingRecord;
  readonly testImages: number;
  readonly trainedAccuracy: number;
  readonly exports: { onnx: ExportCheck; tfliteFp32: ExportCheck; tfliteInt8: ExportCheck; onnxInt8: ExportCheck };
  /** int8 TFLite against fp32 TFLite (LiteRT). */
  readonly int8: Comparison;
  /** int8 ONNX (QDQ) against fp32 ONNX, and against int8 TFLite. */
  readonly onnxInt8: Comparison;
  readonly onnxInt8VsTfliteInt8: Comparison;
  readonly light?: LightReport;
  readonly pruning: { sparsity: number; accuracy: number }[];
  /** The gradual pruning with fine-tuning measured by `prune.ts` on this fixture, when it was run. */
  readonly pruningFineTuned?: PruningRecord;
  readonly tfjsBundle: Buffer;
  readonly labels: Uint8Array;
  readonly testImagesRaw: Uint8Array;
}

/** What `node dist/pipeline/src/prune.js` writes next to the fixture. */
export interface PruningRecord {
  readonly targetSparsity: number;
  readonly measuredSparsity: number;
  readonly fineTuneImages: number;
  readonly fineTuneSeconds: number;
  readonly denseAccuracy: number;
  readonly oneShotAccuracy: number;
  readonly prunedAccuracy: number;
  readonly onnxBytes: number;
  readonly denseGzipBytes: number;
  readonly prunedGzipBytes: number;
}

const CALIBRATION_IMAGES = 1000;
const PRUNING_RECORD = FIXTURE.replace('.tfjs.json', '.pruning.json');

/**
 * The offline half of the seed pipeline on the committed trained models: evaluate the seed CNN on the
 * 10,000 test images, export ONNX and TFLite and check each against it (on the agent's own engines),
 * quantise to int8 (TFLite and ONNX QDQ) and measure size, accuracy and latency, the lightweight variant
 * likewise, and what one-shot magnitude pruning costs.
 */
export async function runOfflinePipeline(outDir: string, log: (line: string) => void): Promise<OfflineReport> {
  await mkdir(outDir, { recursive: true });
  await useWasmBackend();
  const { train, test } = loadMnist();
  const training = await readTrainingRecord();
  const model = await loadBundle();
  const inputs = modelInputs(test.images, Array.from({ length: test.count }, (_, i) => i));
  const calibration = modelInputs(train.images, Array.from({ length: CALIBRATION_IMAGES }, (_, i) => i));
  const reference = await predictAll(model, inputs, test.count);
  const trainedAccuracy = accuracy(argmaxRows(reference), test.labels);
  log(`trained model (TensorFlow.js): ${(trainedAccuracy * 100).toFixed(2)}% on ${test.count} test images`);

  const set: CheckSet = { outDir, inputs, reference, labels: test.labels, log, rawImages: test.images };
  const weights = cnnWeights(model);
  const onnx = await checkExport(set, 'fp32 ONNX', 'digits-fp32.onnx', exportOnnx(weights), 'onnxruntime');
  const fp32 = await checkExport(set, 'fp32 TFLite', 'digits-fp32.tflite', exportTfliteFp32(weights), 'litert');
  const int8 = await checkExport(set, 'int8 TFLite', 'digits-int8.tflite', exportTfliteInt8(weights, calibrate(model, calibration, CALIBRATION_IMAGES, weights)), 'litert');
  const layers = modelLayers(model);
  const onnxInt8 = await checkExport(set, 'int8 ONNX', 'digits-int8.onnx', exportOnnxLayers(layers, 'digits_cnn_int8', calibrateLayers(model, layers, calibration, CALIBRATION_IMAGES)), 'onnxruntime');

  const tfliteInt8Report = await compare(fp32, int8, inputs);
  log(describeComparison('int8 vs fp32 (LiteRT)', tfliteInt8Report));
  const onnxInt8Report = await compare(onnx, onnxInt8, inputs);
  log(describeComparison('int8 vs fp32 (ONNX Runtime)', onnxInt8Report));
  const onnxVsTflite = await compare(int8, onnxInt8, inputs);
  log(describeComparison('int8 ONNX vs int8 TFLite', onnxVsTflite));
  const light = await lightVariant({ test, inputs, calibration, outDir, log, seedParameters: parameterCount(layers), seed: { onnx, onnxInt8 } });
  for (const s of [onnx, fp32, int8, onnxInt8]) await s.session.dispose();

  const pruning: { sparsity: number; accuracy: number }[] = [];
  for (const sparsity of [0.5, 0.7, 0.8, 0.9]) {
    const acc = await withPrunedWeights(model, sparsity, async () => accuracy(argmaxRows(await predictAll(model, inputs, test.count)), test.labels));
    pruning.push({ sparsity, accuracy: acc });
    log(`magnitude pruning ${(sparsity * 100).toFixed(0)}% of weights: accuracy ${(acc * 100).toFixed(2)}%`);
  }

  return {
    training,
    testImages: test.count,
    trainedAccuracy,
    exports: { onnx: closed(onnx), tfliteFp32: closed(fp32), tfliteInt8: closed(int8), onnxInt8: closed(onnxInt8) },
    int8: tfliteInt8Report,
    onnxInt8: onnxInt8Report,
    onnxInt8VsTfliteInt8: onnxVsTflite,
    ...(light ? { light } : {}),
    pruning,
    ...(existsSync(PRUNING_RECORD) ? { pruningFineTuned: JSON.parse(await readFile(PRUNING_RECORD, 'utf8')) as PruningRecord } : {}),
    tfjsBundle: await toTfjsBundle(model),
    labels: test.labels,
    testImagesRaw: test.images,
  };
}

interface LightInputs {
  readonly test: DigitSet;
  readonly inputs: Float32Array;
  readonly calibration: Float32Array;
  readonly outDir: string;
  readonly log: (line: string) => void;
  readonly seedParameters: number;
  readonly seed: { onnx: OpenCheck; onnxInt8: OpenCheck };
}

/** The lightweight variant: checked against its own trained model, compared with the seed CNN's exports. */
async function lightVariant(i: LightInputs): Promise<LightReport | undefined> {
  const paths = fixturePaths('light');
  if (!existsSync(paths.bundle)) {
    i.log(`no lightweight variant (${paths.bundle} is absent: npm run train -- --arch light)`);
    return undefined;
  }
  const model: tf.LayersModel = await loadBundle(paths.bundle);
  const reference = await predictAll(model, i.inputs, i.test.count);
  const trainedAccuracy = accuracy(argmaxRows(reference), i.test.labels);
  const layers = modelLayers(model);
  const parameters = parameterCount(layers);
  i.log(`lightweight variant (TensorFlow.js): ${(trainedAccuracy * 100).toFixed(2)}%, ${parameters} parameters (seed CNN ${i.seedParameters})`);
  const set: CheckSet = { outDir: i.outDir, inputs: i.inputs, reference, labels: i.test.labels, log: i.log, rawImages: i.test.images };
  const fp32 = await checkExport(set, 'light fp32 ONNX', 'digits-light-fp32.onnx', exportOnnxLayers(layers, 'digits_light'), 'onnxruntime');
  const int8 = await checkExport(set, 'light int8 ONNX', 'digits-light-int8.onnx', exportOnnxLayers(layers, 'digits_light_int8', calibrateLayers(model, layers, i.calibration, CALIBRATION_IMAGES)), 'onnxruntime');
  const vsSeed = await compare(i.seed.onnx, fp32, i.inputs);
  i.log(describeComparison('light fp32 vs seed fp32 (ONNX Runtime)', vsSeed));
  const int8VsSeedInt8 = await compare(i.seed.onnxInt8, int8, i.inputs);
  i.log(describeComparison('light int8 vs seed int8 (ONNX Runtime)', int8VsSeedInt8));
  await fp32.session.dispose();
  await int8.session.dispose();
  return { training: await readTrainingRecord(paths.meta), parameters, seedParameters: i.seedParameters, trainedAccuracy, fp32: closed(fp32), int8: closed(int8), vsSeed, int8VsSeedInt8 };
}
