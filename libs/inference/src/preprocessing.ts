import { z } from 'zod';
import { type InferenceSession, InputSizeError, inputSizeOf } from './engine.js';

/**
 * Input preprocessing declared in the signed manifest, applied by the agent before every inference:
 *   x' = ((x * scale) - mean) / std, per element (mean/std may be per channel, the last axis);
 *   layout "NCHW" transposes an NHWC input of `shape` [N, H, W, C] to channels-first.
 */
export const preprocessingSchema = z
  .object({
    scale: z.number().finite().optional(),
    mean: z.union([z.number(), z.array(z.number())]).optional(),
    std: z.union([z.number().positive(), z.array(z.number().positive())]).optional(),
    layout: z.enum(['NHWC', 'NCHW']).optional(),
  })
  .passthrough();
export type Preprocessing = z.infer<typeof preprocessingSchema>;

export function parsePreprocessing(value: unknown): Preprocessing {
  return preprocessingSchema.parse(value ?? {});
}

/**
 * Builds the per-input transform once per model, so the hot path does no parsing. The transform refuses
 * an input that is not one `inputShape` (InputSizeError) before any engine sees it. With `into` (an array
 * of the input's size), the result is written there rather than to a new array; an identity transform
 * still returns `input` itself.
 */
export function compilePreprocessing(spec: Preprocessing, inputShape: readonly number[]): (input: Float32Array, into?: Float32Array) => Float32Array {
  const scale = spec.scale ?? 1;
  const channels = inputShape.at(-1) ?? 1;
  const perChannel = (v: number | number[] | undefined, fallback: number) =>
    Array.isArray(v) ? Float32Array.from({ length: channels }, (_, c) => v[c % v.length] as number) : new Float32Array(channels).fill(v ?? fallback);
  const mean = perChannel(spec.mean, 0);
  const std = perChannel(spec.std, 1);
  const identity = scale === 1 && mean.every((m) => m === 0) && std.every((s) => s === 1) && spec.layout !== 'NCHW';
  const size = inputSizeOf(inputShape);
  if (identity)
    return (input) => {
      if (input.length !== size) throw new InputSizeError(size, input.length);
      return input;
    };
  const nchw = spec.layout === 'NCHW';
  // One mean and one std for every channel (the usual case, e.g. a scale alone): the same arithmetic
  // without a modulo and two array reads per value, on every request's path.
  const uniform = mean.every((m) => m === mean[0]) && std.every((s) => s === std[0]);
  const [m0 = 0, s0 = 1] = [mean[0], std[0]];
  return (input, into) => {
    if (input.length !== size) throw new InputSizeError(size, input.length);
    const out = !nchw && into?.length === size ? into : new Float32Array(size);
    if (uniform) for (let i = 0; i < size; i++) out[i] = ((input[i] as number) * scale - m0) / s0;
    else
      for (let i = 0; i < size; i++) {
        const c = i % channels;
        out[i] = ((input[i] as number) * scale - (mean[c] as number)) / (std[c] as number);
      }
    return nchw ? toChannelsFirst(out, inputShape, into?.length === size ? into : new Float32Array(size)) : out;
  };
}

/**
 * `session` with `preprocess` in front of it. Preprocessed inputs are written to buffers reused across
 * requests instead of a new array per inference (one buffer per request in flight; at most
 * `KEPT_BUFFERS` kept): a buffer is reused only after the engine's run on it has settled — a request
 * refused by a timeout leaves its buffer with the engine until then. Every engine copies its input.
 */
export function preprocessedSession(session: InferenceSession, preprocess: (input: Float32Array, into?: Float32Array) => Float32Array, inputSize: number): InferenceSession {
  const free: Float32Array[] = [];
  const release = (buffer: Float32Array) => {
    if (free.length < KEPT_BUFFERS) free.push(buffer);
  };
  return {
    // `then` rather than async/await: one promise and microtask turn fewer on every request.
    run: (input) => {
      const buffer = free.pop() ?? new Float32Array(inputSize);
      let prepared: Float32Array;
      let running: Promise<Float32Array>;
      try {
        prepared = preprocess(input, buffer);
      } catch (error) {
        release(buffer);
        return Promise.reject(error);
      }
      if (prepared !== buffer) {
        release(buffer); // an identity transform: the engine reads the caller's input
        return session.run(prepared);
      }
      try {
        running = session.run(prepared);
      } catch (error) {
        running = Promise.reject(error);
      }
      const settled = () => release(buffer);
      running.then(settled, settled);
      return running;
    },
    dispose: () => session.dispose(),
  };
}

const KEPT_BUFFERS = 8;

function toChannelsFirst(nhwc: Float32Array, shape: readonly number[], out: Float32Array): Float32Array {
  const [n = 1, h = 1, w = 1, c = 1] = shape;
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + x] = nhwc[((b * h + y) * w + x) * c + k] as number;
  return out;
}
