import { describe, expect, it } from '@jest/globals';
import { FILE_IDENTIFIER } from './schema.js';
import { writeTflite, type TfliteGraph, type TfliteTensor } from './writer.js';

const softmax = (
  tensors: TfliteTensor[] = [
    { name: 'x', shape: [1, 3], type: 'float32' },
    { name: 'y', shape: [1, 3], type: 'float32' },
  ],
): TfliteGraph => ({ tensors, operators: [{ op: 'SOFTMAX', inputs: [0], outputs: [1] }], inputs: [0], outputs: [1] });

describe('writeTflite', () => {
  it('writes a flatbuffer with the TFLite file identifier', () => {
    const bytes = writeTflite(softmax());
    expect(Buffer.from(bytes.subarray(4, 8)).toString('latin1')).toBe(FILE_IDENTIFIER);
  });

  it('aligns constant buffers to 16 bytes, as the schema asks', () => {
    const weights = Float32Array.from([1.5, -2.25, 3.125]);
    const bytes = writeTflite(softmax([{ name: 'x', shape: [1, 3], type: 'float32', data: weights }, { name: 'y', shape: [1, 3], type: 'float32' }]));
    const needle = new Uint8Array(weights.buffer);
    const at = Buffer.from(bytes).indexOf(Buffer.from(needle));
    expect(at).toBeGreaterThan(0);
    expect(at % 16).toBe(0);
  });

  it('refuses an operator that names a tensor that does not exist', () => {
    expect(() => writeTflite({ ...softmax(), operators: [{ op: 'SOFTMAX', inputs: [0], outputs: [2] }] })).toThrow(/tensor index 2/);
  });

  it('refuses constant data that does not fill its shape', () => {
    expect(() => writeTflite(softmax([{ name: 'x', shape: [1, 3], type: 'float32', data: new Float32Array(2) }, { name: 'y', shape: [1, 3], type: 'float32' }]))).toThrow(
      /'x' has 2 values for shape \[1,3\]/,
    );
  });
});
