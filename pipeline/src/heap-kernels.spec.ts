import { describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { useWasmBackend } from './cnn.js';
import { leadingAxes } from './heap-kernels.js';

/** The WASM Sum registered in wasm-kernels.ts against TensorFlow.js's reference CPU backend. */
describe('Sum on the WASM backend (bias gradients in one pass)', () => {
  const values = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => Math.sin(i) * 10);
  // No axis: tf.sum hands the kernel axis null (every axis), which the one-pass path must leave alone.
  const sumOn = async (backend: string, axis: number | number[] | undefined, keepDims: boolean) => {
    await tf.setBackend(backend);
    const s = tf.sum(tf.tensor4d(values, [2, 3, 4, 5]), axis, keepDims);
    return { shape: s.shape, data: Array.from(await s.data()) };
  };

  it.each([
    [[0, 1, 2], false],
    [[2, 0, 1], true],
    [[0], false],
    [[-4, -3], true],
    [[1, 2], false],
    [[0, 1, 2, 3], false],
    [undefined, true],
    [-1, false],
  ] as const)('axis %p keepDims %p gives the CPU backend’s shape and sums', async (axis, keepDims) => {
    await useWasmBackend();
    const list = axis === undefined || typeof axis === 'number' ? axis : [...axis];
    const wasm = await sumOn('wasm', list, keepDims);
    const cpu = await sumOn('cpu', list, keepDims);
    expect(wasm.shape).toEqual(cpu.shape);
    wasm.data.forEach((v, i) => expect(v).toBeCloseTo(cpu.data[i] as number, 3));
  });

  it('takes the one-pass path only for leading axes short of all of them', () => {
    expect(leadingAxes([2, 3, 4, 5], [0, 1, 2])).toBe(3);
    expect(leadingAxes([2, 3, 4, 5], [-4])).toBe(1);
    expect(leadingAxes([2, 3, 4, 5], [1, 2])).toBeUndefined();
    expect(leadingAxes([2, 3, 4, 5], [0, 1, 2, 3])).toBeUndefined();
    expect(leadingAxes([2, 3, 4, 5], null)).toBeUndefined();
  });
});
