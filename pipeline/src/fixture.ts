import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type TfjsBundle, toTfjsBundle } from '#inference';

/** The committed trained model: a TensorFlow.js bundle the agent's tfjs engine also runs as is. */
// Paths are from the repository root, where every npm script runs (as the demo's and the tests' are).
export const FIXTURE = resolve('pipeline/fixtures/digits-cnn-v1.tfjs.json');
export const FIXTURE_META = FIXTURE.replace('.tfjs.json', '.meta.json');
/** The gradually pruned seed CNN as fp32 ONNX, written by `prune.ts` (a build output, not a fixture). */
export const PRUNED_ONNX = resolve('.edgefleet/pipeline/digits-cnn-v1.pruned.onnx');

/** Where each architecture's trained model lives: `cnn` the seed CNN, `light` the depthwise-separable one. */
export function fixturePaths(arch: 'cnn' | 'light', dir = 'pipeline/fixtures'): { bundle: string; meta: string } {
  const bundle = resolve(dir, `digits-${arch}-v1.tfjs.json`);
  return { bundle, meta: bundle.replace('.tfjs.json', '.meta.json') };
}

export interface TrainingRecord {
  readonly version: string;
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize: number;
  /** The peak learning rate of the schedule. */
  readonly learningRate: number;
  readonly schedule?: string;
  readonly maxShift?: number;
  readonly labelSmoothing?: number;
  readonly secondsPerEpoch: number[];
  /** CPU seconds (user + system) per epoch and for the test-set evaluation; absent in older records. */
  readonly cpuSecondsPerEpoch?: number[];
  /** The sum of `cpuSecondsPerEpoch`: the training time the 5-minute budget (issue 15) counts. */
  readonly trainingCpuSeconds?: number;
  readonly evaluationCpuSeconds?: number;
  readonly testAccuracy: number;
  readonly backend: string;
  readonly trainedAt: string;
}

export async function loadBundle(path = FIXTURE): Promise<tf.LayersModel> {
  const bundle = JSON.parse(await readFile(path, 'utf8')) as TfjsBundle;
  const weights = Buffer.from(bundle.weightData, 'base64');
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: bundle.modelTopology, weightSpecs: bundle.weightSpecs, weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) }),
  );
}

export async function saveFixture(model: tf.LayersModel, paths: { bundle: string; meta: string }, record: TrainingRecord): Promise<void> {
  await mkdir(dirname(paths.bundle), { recursive: true });
  await writeFile(paths.bundle, await toTfjsBundle(model));
  await writeFile(paths.meta, `${JSON.stringify(record, null, 2)}\n`);
}

export async function readTrainingRecord(meta = FIXTURE_META): Promise<TrainingRecord> {
  return JSON.parse(await readFile(meta, 'utf8')) as TrainingRecord;
}
