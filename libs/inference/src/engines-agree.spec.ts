import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { denseSoftmaxModel, denseSoftmaxTflite } from '../../../test/helpers/onnx-model.js';
import { LiteRtEngine } from './litert-engine.js';
import { OnnxEngine } from './onnx-engine.js';
import { TfjsEngine, toTfjsBundle } from './tfjs-engine.js';

/** Stated tolerance between engines on the same weights (float32, different kernels). */
const TOLERANCE = 1e-5;

describe('the same model on ONNX Runtime, LiteRT (TFLite) and TensorFlow.js', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-engines-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it(`gives outputs that agree within ${TOLERANCE} on 200 random inputs`, async () => {
    const model = denseSoftmaxModel(11, 32, 10);
    await writeFile(join(dir, 'm.onnx'), model.bytes);
    await tf.setBackend('cpu');
    const layers = tf.sequential({ layers: [tf.layers.dense({ inputShape: [32], units: 10, activation: 'softmax' })] });
    layers.setWeights([tf.tensor2d(model.weights, [32, 10]), tf.tensor1d(model.bias)]);
    await writeFile(join(dir, 'm.tfjs.json'), await toTfjsBundle(layers));
    await writeFile(join(dir, 'm.tflite'), denseSoftmaxTflite(model));

    const spec = { engine: '', format: '', inputShape: [1, 32] };
    const onnx = await new OnnxEngine().load(join(dir, 'm.onnx'), spec);
    const tfjs = await new TfjsEngine().load(join(dir, 'm.tfjs.json'), spec);
    const litert = await new LiteRtEngine().load(join(dir, 'm.tflite'), spec);
    let worst = 0;
    for (let n = 0; n < 200; n++) {
      const x = Float32Array.from({ length: 32 }, () => Math.random() * 2 - 1);
      const reference = model.reference(x);
      for (const output of [await onnx.run(x), await tfjs.run(x), await litert.run(x)]) {
        expect(output).toHaveLength(10);
        for (let i = 0; i < 10; i++) worst = Math.max(worst, Math.abs((output[i] as number) - (reference[i] as number)));
      }
    }
    expect(worst).toBeLessThan(TOLERANCE);
    await onnx.dispose();
    await tfjs.dispose();
    await litert.dispose();
  });
});
