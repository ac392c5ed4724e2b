import { describe, expect, it } from '@jest/globals';
import { type InferenceSession, InputSizeError } from './engine.js';
import { compilePreprocessing, parsePreprocessing, preprocessedSession } from './preprocessing.js';

describe('preprocessing', () => {
  it('is the identity when nothing is declared', () => {
    const input = Float32Array.of(1, 2, 3);
    expect(compilePreprocessing(parsePreprocessing({}), [1, 3])(input)).toBe(input);
  });

  it('scales, then normalises per channel', () => {
    const f = compilePreprocessing(parsePreprocessing({ scale: 1 / 255, mean: [0, 0.5], std: [1, 0.5] }), [1, 2, 2]);
    expect(Array.from(f(Float32Array.of(255, 255, 0, 127.5)))).toEqual([1, 1, 0, 0]);
  });

  it('gives one mean and std (or an array of equal ones) the same float32 values as the per-channel formula', () => {
    const input = Float32Array.from({ length: 12 }, (_, i) => i * 21.3);
    // mean and std are held as float32, as the per-channel arrays always held them
    const expected = Array.from(input, (x) => Math.fround((x * (1 / 255) - Math.fround(0.45)) / Math.fround(0.225)));
    for (const spec of [{ scale: 1 / 255, mean: 0.45, std: 0.225 }, { scale: 1 / 255, mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225] }])
      expect(Array.from(compilePreprocessing(parsePreprocessing(spec), [1, 2, 2, 3])(input))).toEqual(expected);
    const mixed = compilePreprocessing(parsePreprocessing({ mean: [0, 1], std: [1, 2] }), [1, 2, 2]);
    expect(Array.from(mixed(Float32Array.of(1, 3, 5, 7)))).toEqual([1, 1, 5, 3]);
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

  describe('a preprocessed session', () => {
    /** An engine that holds each run open until told, and records the arrays it was given with their values then. */
    function heldEngine() {
      const seen: { input: Float32Array; values: number[] }[] = [];
      const finish: (() => void)[] = [];
      const session: InferenceSession = {
        run: (input) => {
          seen.push({ input, values: Array.from(input) });
          return new Promise((resolve) => finish.push(() => resolve(Float32Array.of(input[0] as number))));
        },
        dispose: async () => undefined,
      };
      return { session, seen, finish };
    }

    it('never hands the engine a buffer another run still holds, and reuses it once that run has settled', async () => {
      const engine = heldEngine();
      const s = preprocessedSession(engine.session, compilePreprocessing({ scale: 2 }, [1, 2]), 2);
      const first = s.run(Float32Array.of(1, 2));
      const second = s.run(Float32Array.of(3, 4));
      expect(engine.seen[0]?.input).not.toBe(engine.seen[1]?.input);
      engine.finish[0]?.();
      expect(Array.from(await first)).toEqual([2]);
      const third = s.run(Float32Array.of(5, 6));
      expect(engine.seen[2]?.input).toBe(engine.seen[0]?.input); // reused after its run settled
      expect(Array.from(engine.seen[1]?.input ?? [])).toEqual([6, 8]); // the one still running is untouched
      engine.finish[1]?.();
      engine.finish[2]?.();
      expect(Array.from(await second)).toEqual([6]);
      expect(Array.from(await third)).toEqual([10]);
      expect(engine.seen.map((r) => r.values)).toEqual([[2, 4], [6, 8], [10, 12]]);
    });

    it('passes the caller’s input through an identity transform and refuses a wrong size before the engine', async () => {
      const engine = heldEngine();
      const s = preprocessedSession(engine.session, compilePreprocessing({}, [1, 2]), 2);
      const input = Float32Array.of(1, 2);
      const run = s.run(input);
      expect(engine.seen[0]?.input).toBe(input);
      engine.finish[0]?.();
      await run;
      await expect(s.run(Float32Array.of(1))).rejects.toThrow(InputSizeError);
      expect(engine.seen).toHaveLength(1);
    });

    it('writes NCHW transposes into its buffers too', async () => {
      const engine = heldEngine();
      const s = preprocessedSession(engine.session, compilePreprocessing({ layout: 'NCHW' }, [1, 1, 2, 2]), 4);
      const run = s.run(Float32Array.of(1, 2, 3, 4));
      engine.finish[0]?.();
      await run;
      expect(engine.seen[0]?.values).toEqual([1, 3, 2, 4]);
    });
  });
});
