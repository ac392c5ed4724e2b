import ort from 'onnxruntime-node';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportOnnx } from '../pipeline/src/export-onnx.js';
import { loadBundle } from '../pipeline/src/fixture.js';
import { INPUT_SHAPE } from '../pipeline/src/preprocessing.js';
import { cnnWeights } from '../pipeline/src/weights.js';
import { bearer, type TestApp } from '../test/helpers/test-app.js';

const PIXELS = 28 * 28;

export interface SeedCnn {
  readonly weights: ReturnType<typeof cnnWeights>;
  /** The seed CNN as the pipeline exports it to ONNX (input: raw grey bytes; the manifest scales them). */
  readonly onnxBytes: Buffer;
  readonly onnxPath: string;
  /** A fixed digit-like image, raw 0–255 values, and raw onnxruntime's output for it (the self-test). */
  readonly image: number[];
  readonly expected: Float32Array;
}

/** The committed seed CNN exported to ONNX under `dir`, with a golden input and its reference output. */
export async function seedCnn(dir: string): Promise<SeedCnn> {
  const weights = cnnWeights(await loadBundle());
  const onnxBytes = exportOnnx(weights);
  const onnxPath = join(dir, 'digits.onnx');
  await writeFile(onnxPath, onnxBytes);
  const image = Array.from({ length: PIXELS }, (_, i) => ((i * 37) % 256) * Number(i % 28 > 6 && i % 28 < 22));
  const reference = await ort.InferenceSession.create(onnxPath);
  const outputs = await reference.run({ [reference.inputNames[0] as string]: new ort.Tensor('float32', Float32Array.from(image, (v) => v / 255), [...INPUT_SHAPE]) });
  const expected = outputs[reference.outputNames[0] as string]?.data as Float32Array;
  await reference.release();
  return { weights, onnxBytes, onnxPath, image, expected };
}

/** Registers the `digits` model the seed CNN's versions are uploaded under. */
export async function createDigitsModel(t: TestApp): Promise<void> {
  await t
    .http()
    .post('/v1/models')
    .set(bearer(t.adminKey))
    .send({ name: 'digits', task: 'classification', inputSpec: { name: 'input', shape: [...INPUT_SHAPE] }, outputSpec: { name: 'probabilities', shape: [1, 10] } })
    .expect(201);
}
