import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTflite } from '#tflite';
import { LiteRtEngine } from './litert-engine.js';

/** Deterministic values in [-0.5, 0.5). */
function values(seed: number, n: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  });
}

/**
 * The seed CNN's building blocks in miniature, NHWC: conv 3×3 (2→3 channels, valid, relu) → max-pool 2×2
 * → reshape → dense (12→4) → softmax, computed in plain JS with TFLite's layouts (filters OHWI, dense
 * weights [out, in]).
 */
function reference(x: Float32Array, filter: Float32Array, convBias: Float32Array, dense: Float32Array, denseBias: Float32Array): number[] {
  const conv = new Float32Array(4 * 4 * 3);
  for (let y = 0; y < 4; y++)
    for (let xx = 0; xx < 4; xx++)
      for (let o = 0; o < 3; o++) {
        let sum = convBias[o] as number;
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++)
            for (let c = 0; c < 2; c++) sum += (x[((y + ky) * 6 + (xx + kx)) * 2 + c] as number) * (filter[((o * 3 + ky) * 3 + kx) * 2 + c] as number);
        conv[(y * 4 + xx) * 3 + o] = Math.max(0, sum);
      }
  const pooled: number[] = [];
  for (let y = 0; y < 2; y++)
    for (let xx = 0; xx < 2; xx++)
      for (let o = 0; o < 3; o++) {
        const at = (dy: number, dx: number) => conv[((2 * y + dy) * 4 + (2 * xx + dx)) * 3 + o] as number;
        pooled.push(Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1)));
      }
  const logits = Array.from({ length: 4 }, (_, k) => pooled.reduce((sum, v, i) => sum + v * (dense[k * 12 + i] as number), denseBias[k] as number));
  const max = Math.max(...logits);
  const exp = logits.map((l) => Math.exp(l - max));
  const total = exp.reduce((a, b) => a + b, 0);
  return exp.map((e) => e / total);
}

describe('LiteRtEngine', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-litert-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('runs a conv → pool → reshape → dense → softmax model written by #tflite and matches a JS reference', async () => {
    const [filter, convBias, dense, denseBias] = [values(1, 3 * 3 * 3 * 2), values(2, 3), values(3, 4 * 12), values(4, 4)];
    const bytes = writeTflite({
      tensors: [
        { name: 'input', shape: [1, 6, 6, 2], type: 'float32' },
        { name: 'filter', shape: [3, 3, 3, 2], type: 'float32', data: filter },
        { name: 'conv_bias', shape: [3], type: 'float32', data: convBias },
        { name: 'conv', shape: [1, 4, 4, 3], type: 'float32' },
        { name: 'pool', shape: [1, 2, 2, 3], type: 'float32' },
        { name: 'flat', shape: [1, 12], type: 'float32' },
        { name: 'dense', shape: [4, 12], type: 'float32', data: dense },
        { name: 'dense_bias', shape: [4], type: 'float32', data: denseBias },
        { name: 'logits', shape: [1, 4], type: 'float32' },
        { name: 'probabilities', shape: [1, 4], type: 'float32' },
        { name: 'shape', shape: [2], type: 'int32', data: Int32Array.from([1, 12]) },
      ],
      operators: [
        { op: 'CONV_2D', inputs: [0, 1, 2], outputs: [3], padding: 'valid', stride: 1, activation: 'relu' },
        { op: 'MAX_POOL_2D', inputs: [3], outputs: [4], padding: 'valid', stride: 2, filter: 2 },
        { op: 'RESHAPE', inputs: [4, 10], outputs: [5], newShape: [1, 12] },
        { op: 'FULLY_CONNECTED', inputs: [5, 6, 7], outputs: [8], activation: 'none' },
        { op: 'SOFTMAX', inputs: [8], outputs: [9] },
      ],
      inputs: [0],
      outputs: [9],
    });
    const path = join(dir, 'cnn.tflite');
    await writeFile(path, bytes);
    const session = await new LiteRtEngine().load(path, { engine: 'litert', format: 'tflite', inputShape: [1, 6, 6, 2] });
    let worst = 0;
    for (let n = 0; n < 20; n++) {
      const x = values(100 + n, 72).map((v) => v * 4);
      const [y, expected] = [await session.run(x), reference(x, filter, convBias, dense, denseBias)];
      expect(y).toHaveLength(4);
      y.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (expected[i] as number)))));
    }
    expect(worst).toBeLessThan(1e-5);
    await session.dispose();
  });

  it('refuses a file that is not a TFLite model with an error', async () => {
    const path = join(dir, 'garbage.tflite');
    await writeFile(path, Buffer.from('definitely not a flatbuffer'));
    await expect(new LiteRtEngine().load(path, { engine: 'litert', format: 'tflite', inputShape: [1, 4] })).rejects.toThrow();
  });

  it('refuses an input of the wrong size', async () => {
    const bytes = writeTflite({
      tensors: [
        { name: 'x', shape: [1, 4], type: 'float32' },
        { name: 'y', shape: [1, 4], type: 'float32' },
      ],
      operators: [{ op: 'SOFTMAX', inputs: [0], outputs: [1] }],
      inputs: [0],
      outputs: [1],
    });
    const path = join(dir, 'softmax.tflite');
    await writeFile(path, bytes);
    const session = await new LiteRtEngine().load(path, { engine: 'litert', format: 'tflite', inputShape: [1, 4] });
    await expect(session.run(new Float32Array(3))).rejects.toThrow(/expected 4 input values/);
    const y = await session.run(Float32Array.from([0, 0, 0, Math.log(3)]));
    expect(Array.from(y).map((v) => Number(v.toFixed(5)))).toEqual([1 / 6, 1 / 6, 1 / 6, 1 / 2].map((v) => Number(v.toFixed(5))));
    await session.dispose();
  });
});
