import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type TensorInfo = tf.TensorInfo;
type Attrs = Record<string, unknown>;
interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: BackendWasm;
  attrs: Attrs;
}

/**
 * The two gradients of a depthwise convolution, which TensorFlow.js's WASM backend lacks (the
 * lightweight variant's depthwise-separable blocks need them). A depthwise 3×3 kernel does 9 multiply-adds
 * per output value, so one pass over the heap in JS is cheap next to the pointwise convolutions. Only
 * what the variant uses: stride 1, 'valid', NHWC, depth multiplier 1; anything else throws.
 */
export function registerDepthwiseKernels(): void {
  for (const [kernelName, kernelFunc] of [
    ['DepthwiseConv2dNativeBackpropFilter', backpropFilter],
    ['DepthwiseConv2dNativeBackpropInput', backpropInput],
  ] as const) {
    if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}

function check(kernel: string, attrs: Attrs, filterShape: readonly number[]): void {
  const strides = attrs['strides'] as number | number[];
  const ones = Array.isArray(strides) ? strides.every((s) => s === 1) : strides === 1;
  if (!ones || attrs['pad'] !== 'valid' || filterShape[3] !== 1) throw new Error(`${kernel}: only stride-1 'valid' depthwise convolutions with multiplier 1 are supported here`);
}

interface Dims {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly oh: number;
  readonly ow: number;
  readonly kh: number;
  readonly kw: number;
}

/**
 * Both gradients walk the same taps: for each output position and filter tap, per channel,
 * `into[…] += other[…] · dy[n, y, x, c]`, where the filter side is [ky,kx,c] and the input side
 * [n, y+ky, x+kx, c]. `intoFilter` says which side is written (dW) and which is read (x); otherwise
 * the input side is written (dX) from the filter. `into` starts at zero.
 */
function accumulateTaps(d: Dims, dy: Float32Array, { into, intoFilter, other }: { into: Float32Array; intoFilter: boolean; other: Float32Array }): void {
  const { n, h, w, c, oh, ow, kh, kw } = d;
  into.fill(0);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++) {
        const g = ((b * oh + y) * ow + xx) * c;
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const inputAt = ((b * h + y + ky) * w + xx + kx) * c;
            const filterAt = (ky * kw + kx) * c;
            const to = intoFilter ? filterAt : inputAt;
            const from = intoFilter ? inputAt : filterAt;
            for (let k = 0; k < c; k++) into[to + k] = (into[to + k] as number) + (other[from + k] as number) * (dy[g + k] as number);
          }
      }
}

/** dW[ky,kx,c] = Σ x[n, y+ky, x+kx, c] · dy[n, y, x, c]. */
function backpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const filterShape = attrs['filterShape'] as [number, number, number, number];
  check('DepthwiseConv2dNativeBackpropFilter', attrs, filterShape);
  const input = inputs['x'] as TensorInfo;
  const grad = inputs['dy'] as TensorInfo;
  const [n, h, w, c] = input.shape as [number, number, number, number];
  const [, oh, ow] = grad.shape as [number, number, number, number];
  const [kh, kw] = filterShape;
  const out = backend.makeOutput(filterShape, 'float32');
  // Views on the heap only after makeOutput: allocating can grow (and move) it.
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const dy = backend.typedArrayFromHeap(grad) as Float32Array;
  const dw = backend.typedArrayFromHeap(out) as Float32Array;
  accumulateTaps({ n, h, w, c, oh, ow, kh, kw }, dy, { into: dw, intoFilter: true, other: x });
  return out;
}

/** dX[n, y+ky, x+kx, c] += W[ky,kx,c] · dy[n, y, x, c]. */
function backpropInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const filterInfo = inputs['filter'] as TensorInfo;
  check('DepthwiseConv2dNativeBackpropInput', attrs, filterInfo.shape);
  const grad = inputs['dy'] as TensorInfo;
  const [n, h, w, c] = attrs['inputShape'] as [number, number, number, number];
  const [, oh, ow] = grad.shape as [number, number, number, number];
  const [kh, kw] = filterInfo.shape as [number, number];
  const out = backend.makeOutput([n, h, w, c], 'float32');
  const filter = backend.typedArrayFromHeap(filterInfo) as Float32Array;
  const dy = backend.typedArrayFromHeap(grad) as Float32Array;
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  accumulateTaps({ n, h, w, c, oh, ow, kh, kw }, dy, { into: dx, intoFilter: false, other: filter });
  return out;
}
