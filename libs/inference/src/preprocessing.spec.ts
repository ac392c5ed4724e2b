import { describe, expect, it } from '@jest/globals';
import { InputSizeError } from './engine.js';
import { compilePreprocessing, parsePreprocessing } from './preprocessing.js';

describe('preprocessing', () => {
  it('is the identity when nothing is declared', () => {
    const input = Float32Array.of(1, 2, 3);
    expect(compilePreprocessing(parsePreprocessing({}), [1, 3])(input)).toBe(input);
  });

  it('scales, then normalises per channel', () => {
    const f = compilePreprocessing(parsePreprocessing({ scale: 1 / 255, mean: [0, 0.5], std: [1, 0.5] }), [1, 2, 2]);
    expect(Array.from(f(Float32Array.of(255, 255, 0, 127.5)))).toEqual([1, 1, 0, 0]);
  });

  it('transposes NHWC input to NCHW', () => {
    const f = compilePreprocessing(parsePreprocessing({ layout: 'NCHW' }), [1, 1, 2, 2]);
    // pixels (c0,c1): (1,2) (3,4) → channel planes [1,3] [2,4]
    expect(Array.from(f(Float32Array.of(1, 2, 3, 4)))).toEqual([1, 3, 2, 4]);
  });

  it('refuses an input that is not one input shape with InputSizeError, identity or not', () => {
    expect(() => compilePreprocessing({}, [1, 3])(Float32Array.of(1, 2))).toThrow(InputSizeError);
    expect(() => compilePreprocessing({ scale: 2, layout: 'NCHW' }, [1, 1, 2, 2])(Float32Array.of(1, 2, 3, 4, 5))).toThrow(/expected 4 input values, got 5/);
  });

  it('refuses a non-positive std', () => {
    expect(() => parsePreprocessing({ std: 0 })).toThrow();
  });
});
