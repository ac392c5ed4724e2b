import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type TensorInfo = tf.TensorInfo;
type Attrs = Record<string, unknown>;
export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: BackendWasm;
  attrs: Attrs;
}

/**
 * A bias gradient is a Sum over every axis but the channels ([n,h,w,c] → [c]). The WASM backend's Sum
 * first transposes the reduced axes innermost (a full copy with per-element index arithmetic), which
 * made the first convolution's bias gradient cost more than the convolution itself. Reducing leading
 * axes needs no transpose: one pass adding rows of `c` values. Any other Sum goes to the backend's own
 * kernel (`fallback`).
 */
export function leadingAxesSum(fallback: tf.KernelFunc): (args: KernelArgs) => TensorInfo {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs['x'] as TensorInfo;
    const reduced = leadingAxes(x.shape, attrs['axis']);
    if (x.dtype !== 'float32' || reduced === undefined) return fallback(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
    const kept = x.shape.slice(reduced);
    const shape = attrs['keepDims'] === true ? [...x.shape.slice(0, reduced).map(() => 1), ...kept] : kept;
    const out = backend.makeOutput(shape, 'float32');
    // Views on the WASM heap only after makeOutput: allocating can grow (and move) the heap.
    const values = backend.typedArrayFromHeap(x) as Float32Array;
    const sums = backend.typedArrayFromHeap(out) as Float32Array;
    sums.set(sumRows(values, sums.length));
    return out;
  };
}

/** How many leading axes `axis` names (0..r−1, r < rank), or undefined if it names anything else. */
export function leadingAxes(shape: readonly number[], axis: unknown): number | undefined {
  if (axis === null || axis === undefined) return undefined; // every axis
  const rank = shape.length;
  const list = (Array.isArray(axis) ? axis : [axis]).map((a) => ((a as number) + rank) % rank).sort((a, b) => a - b);
  if (list.length === 0 || list.length >= rank || list.some((a, i) => a !== i)) return undefined;
  return list.length;
}

/** Σ over rows of a row-major [rows, width] array, accumulated in float64 (rows can be ~10⁵ long). */
export function sumRows(values: Float32Array, width: number): Float64Array {
  const acc = new Float64Array(width);
  for (let base = 0; base < values.length; base += width) for (let c = 0; c < width; c++) acc[c] = (acc[c] as number) + (values[base + c] as number);
  return acc;
}

/**
 * Each output gradient goes to the position of its window's maximum (the first one on ties, in row-major
 * window order, as TF does). The window's offsets are computed once and each window's address once,
 * so the inner loop over channels only compares.
 */
export function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const input = inputs['input'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  const [fh, fw] = toPair(attrs['filterSize']);
  const [sh, sw] = toPair(attrs['strides']);
  if (attrs['pad'] !== 'valid') throw new Error("MaxPoolGrad: only 'valid' pooling is supported here");
  const [n, h, w, c] = input.shape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const out = backend.makeOutput(input.shape, 'float32');
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  const offsets = Int32Array.from({ length: fh * fw }, (_, j) => (Math.floor(j / fw) * w + (j % fw)) * c);
  let gi = 0;
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++) {
        const window = ((b * h + y * sh) * w + xx * sw) * c;
        for (let k = 0; k < c; k++, gi++) {
          let at = window + k;
          let best = x[at] as number;
          for (let j = 1; j < offsets.length; j++) {
            const i = window + k + (offsets[j] as number);
            if ((x[i] as number) > best) {
              best = x[i] as number;
              at = i;
            }
          }
          dx[at] = (dx[at] as number) + (g[gi] as number);
        }
      }
  return out;
}

function toPair(value: unknown): [number, number] {
  return Array.isArray(value) ? [value[0] as number, value[1] as number] : [value as number, value as number];
}
