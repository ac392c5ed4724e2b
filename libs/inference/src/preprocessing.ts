import { z } from 'zod';
import { InputSizeError, inputSizeOf } from './engine.js';

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
 * an input that is not one `inputShape` (InputSizeError) before any engine sees it.
 */
export function compilePreprocessing(spec: Preprocessing, inputShape: readonly number[]): (input: Float32Array) => Float32Array {
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
  return (input) => {
    if (input.length !== size) throw new InputSizeError(size, input.length);
    const out = new Float32Array(input.length);
    for (let i = 0; i < input.length; i++) {
      const c = i % channels;
      out[i] = ((input[i] as number) * scale - (mean[c] as number)) / (std[c] as number);
    }
    return spec.layout === 'NCHW' ? toChannelsFirst(out, inputShape) : out;
  };
}

function toChannelsFirst(nhwc: Float32Array, shape: readonly number[]): Float32Array {
  const [n = 1, h = 1, w = 1, c = 1] = shape;
  const out = new Float32Array(nhwc.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + x] = nhwc[((b * h + y) * w + x) * c + k] as number;
  return out;
}
