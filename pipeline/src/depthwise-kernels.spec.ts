import { describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { useWasmBackend } from './cnn.js';

/** The registered depthwise gradient kernels against TensorFlow.js's reference CPU backend, on the same graph. */
describe('depthwise training kernels for the WASM backend', () => {
  const f = (x: tf.Tensor4D, dw: tf.Tensor4D, pw: tf.Tensor4D) => {
    const a = tf.depthwiseConv2d(x, dw, 1, 'valid');
    return tf.relu(tf.conv2d(a, pw, 1, 'valid')).square().sum() as tf.Scalar;
  };
  const values = (n: number, seed: number) => {
    let s = seed;
    return Float32Array.from({ length: n }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) - 0.5);
  };
  const gradients = async (backend: string) => {
    await tf.setBackend(backend);
    const x = tf.tensor4d(values(2 * 9 * 11 * 6, 1), [2, 9, 11, 6]);
    const dw = tf.tensor4d(values(3 * 3 * 6, 2), [3, 3, 6, 1]);
    const pw = tf.tensor4d(values(6 * 5, 3), [1, 1, 6, 5]);
    const grads = tf.grads((a, b, c) => f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D))([x, dw, pw]);
    return Promise.all(grads.map((g) => g.data()));
  };

  it('give the CPU backend’s gradients for depthwise → pointwise → relu (input and both filters)', async () => {
    await useWasmBackend();
    const wasm = await gradients('wasm');
    const cpu = await gradients('cpu');
    for (let i = 0; i < 3; i++) {
      let worst = 0;
      (cpu[i] as Float32Array).forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ((wasm[i] as Float32Array)[j] as number)))));
      expect(worst).toBeLessThan(1e-4);
      expect((cpu[i] as Float32Array).some((v) => v !== 0)).toBe(true);
    }
  });

  it('refuse a stride they do not implement instead of computing a wrong gradient', async () => {
    await useWasmBackend();
    await tf.setBackend('wasm');
    const x = tf.ones([1, 6, 6, 2]) as tf.Tensor4D;
    const dw = tf.ones([3, 3, 2, 1]) as tf.Tensor4D;
    expect(() => tf.grad((w) => tf.depthwiseConv2d(x, w as tf.Tensor4D, 2, 'valid').sum())(dw)).toThrow(/stride-1 'valid'/);
  });
});
