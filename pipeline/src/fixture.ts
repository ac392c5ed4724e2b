import * as tf from '@tensorflow/tfjs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type TfjsBundle, toTfjsBundle } from '#inference';

/** The committed trained model: a TensorFlow.js bundle the agent's tfjs engine also runs as is. */
// Paths are from the repository root, where every npm script runs (as the demo's and the tests' are).
export const FIXTURE = resolve('pipeline/fixtures/digits-cnn-v1.tfjs.json');
export const FIXTURE_META = FIXTURE.replace('.tfjs.json', '.meta.json');

export interface TrainingRecord {
  readonly version: string;
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly secondsPerEpoch: number[];
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

export async function saveFixture(model: tf.LayersModel, record: TrainingRecord): Promise<void> {
  await writeFile(FIXTURE, await toTfjsBundle(model));
  await writeFile(FIXTURE_META, `${JSON.stringify(record, null, 2)}\n`);
}

export async function readTrainingRecord(): Promise<TrainingRecord> {
  return JSON.parse(await readFile(FIXTURE_META, 'utf8')) as TrainingRecord;
}
