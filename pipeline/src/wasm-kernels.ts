import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { registerDepthwiseKernels } from './depthwise-kernels.js';
import { leadingAxesSum, maxPoolGrad } from './heap-kernels.js';

type TensorInfo = tf.TensorInfo;
type Attrs = Record<string, unknown>;

/**
 * TensorFlow.js's WASM backend predicts fast but cannot train a CNN: it has no Conv2DBackpropFilter
 * kernel, and its Conv2DBackpropInput and MaxPoolGrad are slow loops. The two convolution gradients are
 * themselves convolutions, so they are registered here as compositions of the backend's own (XNNPACK)
 * Conv2D and Transpose kernels; MaxPoolGrad is one pass over the heap, and so is the Sum of a bias
 * gradient (heap-kernels.ts). With these, one MNIST epoch of the seed CNN takes about a minute and a half
 * of one core instead of about twelve hours on the pure-JS backend.
 * Only what the seed CNN uses is supported (stride 1 'valid' convolutions, 'valid' pooling); anything else
 * throws rather than computing a wrong gradient.
 */
export function registerTrainingKernels(): void {
  replace('Conv2DBackpropFilter', conv2dBackpropFilter);
  replace('Conv2DBackpropInput', conv2dBackpropInput);
  replace('MaxPoolGrad', maxPoolGrad);
  // Registered once per process (useWasmBackend): a second call would wrap our own Sum, still correct.
  const sum = tf.getKernel('Sum', 'wasm');
  if (!sum) throw new Error('the wasm backend has no Sum kernel');
  replace('Sum', leadingAxesSum(sum.kernelFunc));
  registerDepthwiseKernels();
}

function replace(kernelName: string, kernelFunc: (args: { inputs: Record<string, TensorInfo>; backend: BackendWasm; attrs: Attrs }) => TensorInfo): void {
  if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

function run(name: string, inputs: Record<string, TensorInfo>, attrs: Attrs, backend: BackendWasm): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
}

function free(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

function checkStrideOneValid(kernel: string, attrs: Attrs): void {
  const strides = attrs['strides'] as number | number[];
  const ones = Array.isArray(strides) ? strides.every((s) => s === 1) : strides === 1;
  if (!ones || attrs['pad'] !== 'valid' || (attrs['dataFormat'] ?? 'NHWC') !== 'NHWC') {
    throw new Error(`${kernel}: only stride-1 'valid' NHWC convolutions are supported here`);
  }
}

const conv = (x: TensorInfo, filter: TensorInfo, backend: BackendWasm) =>
  run('Conv2D', { x, filter }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined }, backend);

/**
 * dW[kh,kw,ci,co] = Σ x[n,y+kh,x+kw,ci]·dy[n,y,x,co], composed one of two ways, whichever moves less
 * memory (on a shared machine the copies, not the multiply-adds, set the pace):
 * - Pᵀ·dy, with Pᵀ the image patches as rows [kh·kw·ci, n·oh·ow] (one pass over the heap) and dy as
 *   [n·oh·ow, co] (a reshape): one XNNPACK matrix product. Chosen when the patches are smaller than dy,
 *   as in the first layer (ci = 1), where transposing and packing all of dy cost ten times the arithmetic;
 * - otherwise a convolution of x as [ci,H,W,n] by dy as [oh,ow,n,co] (both transposed).
 * Measured per call, interleaved: first layer 58 → 17 CPU ms; the second layer's patches (4.5 M values
 * against dy's 1 M) made it 81 → 98, hence the choice.
 */
function conv2dBackpropFilter({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: BackendWasm; attrs: Attrs }): TensorInfo {
  checkStrideOneValid('Conv2DBackpropFilter', attrs);
  const x = inputs['x'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  const [kh, kw, ci, co] = attrs['filterShape'] as [number, number, number, number];
  // Patches hold kh·kw·ci values per output position, dy holds co.
  return kh * kw * ci < co ? filterGradientByPatches(x, dy, backend) : filterGradientByConvolution(x, dy, backend);
}

function filterGradientByPatches(x: TensorInfo, dy: TensorInfo, backend: BackendWasm): TensorInfo {
  const [, , , ci] = x.shape as [number, number, number, number];
  const [n, oh, ow, co] = dy.shape as [number, number, number, number];
  const [kh, kw] = [x.shape[1] - oh + 1, x.shape[2] - ow + 1] as [number, number];
  const patches = patchRows(x, [kh, kw], [n, oh, ow], backend);
  const rows = run('Reshape', { x: dy }, { shape: [1, n * oh * ow, co] }, backend);
  const product = run('BatchMatMul', { a: patches, b: rows }, { transposeA: false, transposeB: false }, backend);
  const out = run('Reshape', { x: product }, { shape: [kh, kw, ci, co] }, backend);
  free(backend, patches, rows, product);
  return out;
}

function filterGradientByConvolution(x: TensorInfo, dy: TensorInfo, backend: BackendWasm): TensorInfo {
  const xT = run('Transpose', { x }, { perm: [3, 1, 2, 0] }, backend);
  const dyT = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }, backend);
  const grad = conv(xT, dyT, backend); // [ci, kh, kw, co]
  const out = run('Transpose', { x: grad }, { perm: [1, 2, 0, 3] }, backend);
  free(backend, xT, dyT, grad);
  return out;
}

/** Pᵀ[(a·kw + b)·ci + c, (n·oh + y)·ow + x] = x[n, y+a, x+b, c], as a [1, kh·kw·ci, n·oh·ow] tensor. */
function patchRows(input: TensorInfo, [kh, kw]: [number, number], [n, oh, ow]: [number, number, number], backend: BackendWasm): TensorInfo {
  const [, h, w, ci] = input.shape as [number, number, number, number];
  const columns = n * oh * ow;
  const out = backend.makeOutput([1, kh * kw * ci, columns], 'float32');
  // Views on the WASM heap only after makeOutput: allocating can grow (and move) the heap.
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const p = backend.typedArrayFromHeap(out) as Float32Array;
  for (let a = 0; a < kh; a++)
    for (let b = 0; b < kw; b++)
      for (let c = 0; c < ci; c++) {
        let at = ((a * kw + b) * ci + c) * columns;
        for (let image = 0; image < n; image++)
          for (let y = 0; y < oh; y++) {
            let from = ((image * h + y + a) * w + b) * ci + c;
            for (let xx = 0; xx < ow; xx++, from += ci) p[at++] = x[from] as number;
          }
      }
  return out;
}

/** dX = dy padded by k−1, convolved with the filter turned 180° and its channel axes swapped. */
function conv2dBackpropInput({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: BackendWasm; attrs: Attrs }): TensorInfo {
  checkStrideOneValid('Conv2DBackpropInput', attrs);
  const dy = inputs['dy'] as TensorInfo;
  const filter = inputs['filter'] as TensorInfo;
  const [kh, kw] = filter.shape as [number, number, number, number];
  const padded = run('PadV2', { x: dy }, { paddings: [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]], constantValue: 0 }, backend);
  const flipped = run('Reverse', { x: filter }, { dims: [0, 1] }, backend);
  const swapped = run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }, backend);
  const out = conv(padded, swapped, backend);
  free(backend, padded, flipped, swapped);
  return out;
}
