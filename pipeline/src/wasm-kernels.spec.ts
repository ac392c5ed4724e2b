import { describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { useWasmBackend } from './cnn.js';

/** The registered WASM gradient kernels against TensorFlow.js's reference CPU backend, on the same op graph. */
describe('training kernels for the WASM backend', () => {
  const f = (x: tf.Tensor4D, w1: tf.Tensor4D, w2: tf.Tensor4D) => {
    const a = tf.relu(tf.conv2d(x, w1, 1, 'valid'));
    const p = tf.maxPool(a, 2, 2, 'valid');
    return tf.conv2d(p, w2, 1, 'valid').square().sum() as tf.Scalar;
  };
  const values = (n: number, seed: number) => {
    let s = seed;
    return Float32Array.from({ length: n }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) - 0.5);
  };
  // ci = 3, co = 4 takes the convolution path of the filter gradient; ci = 1, co = 12 its patch path.
  const gradients = async (backend: string, [ci, co]: [number, number]) => {
    await tf.setBackend(backend);
    const x = tf.tensor4d(values(2 * 12 * 12 * ci, 1), [2, 12, 12, ci]);
    const w1 = tf.tensor4d(values(3 * 3 * ci * co, 2), [3, 3, ci, co]);
    const w2 = tf.tensor4d(values(3 * 3 * co * 5, 3), [3, 3, co, 5]);
    const grads = tf.grads((a, b, c) => f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D))([x, w1, w2]);
    return Promise.all(grads.map((g) => g.data()));
  };

  it.each([
    [3, 4],
    [1, 12],
  ] as const)('give the CPU backend’s gradients for conv → relu → max-pool → conv (input and both filters), ci %i co %i', async (ci, co) => {
    await useWasmBackend();
    const wasm = await gradients('wasm', [ci, co]);
    const cpu = await gradients('cpu', [ci, co]);
    for (let i = 0; i < 3; i++) {
      let worst = 0;
      (cpu[i] as Float32Array).forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ((wasm[i] as Float32Array)[j] as number)))));
      expect(worst).toBeLessThan(1e-4);
      expect((cpu[i] as Float32Array).some((v) => v !== 0)).toBe(true);
    }
  });
});
