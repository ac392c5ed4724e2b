import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { registerDepthwiseKernels } from './depthwise-kernels.js';

type TensorInfo = tf.TensorInfo;
type Attrs = Record<string, unknown>;

/**
 * TensorFlow.js's WASM backend predicts fast but cannot train a CNN: it has no Conv2DBackpropFilter
 * kernel, and its Conv2DBackpropInput and MaxPoolGrad are slow loops. The two convolution gradients are
 * themselves convolutions, so they are registered here as compositions of the backend's own (XNNPACK)
 * Conv2D and Transpose kernels; MaxPoolGrad is one pass over the heap. With these, one MNIST epoch of
 * the seed CNN takes about two minutes on one core instead of about twelve hours on the pure-JS backend.
 * Only what the seed CNN uses is supported (stride 1 'valid' convolutions, 'valid' pooling); anything else
 * throws rather than computing a wrong gradient.
 */
export function registerTrainingKernels(): void {
  replace('Conv2DBackpropFilter', conv2dBackpropFilter);
  replace('Conv2DBackpropInput', conv2dBackpropInput);
  replace('MaxPoolGrad', maxPoolGrad);
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

/** dW[kh,kw,ci,co] = Σ x[n,y+kh,x+kw,ci]·dy[n,y,x,co]: a convolution of x as [ci,H,W,n] by dy as [oh,ow,n,co]. */
function conv2dBackpropFilter({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: BackendWasm; attrs: Attrs }): TensorInfo {
  checkStrideOneValid('Conv2DBackpropFilter', attrs);
  const xT = run('Transpose', { x: inputs['x'] as TensorInfo }, { perm: [3, 1, 2, 0] }, backend);
  const dyT = run('Transpose', { x: inputs['dy'] as TensorInfo }, { perm: [1, 2, 0, 3] }, backend);
  const grad = conv(xT, dyT, backend); // [ci, kh, kw, co]
  const out = run('Transpose', { x: grad }, { perm: [1, 2, 0, 3] }, backend);
  free(backend, xT, dyT, grad);
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

/** Each output gradient goes to the position of its window's maximum (the first one on ties, as TF does). */
function maxPoolGrad({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: BackendWasm; attrs: Attrs }): TensorInfo {
  const input = inputs['input'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  const [fh, fw] = toPair(attrs['filterSize']);
  const [sh, sw] = toPair(attrs['strides']);
  if (attrs['pad'] !== 'valid') throw new Error("MaxPoolGrad: only 'valid' pooling is supported here");
  const [n, h, w, c] = input.shape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const out = backend.makeOutput(input.shape, 'float32');
  // Views on the WASM heap only after makeOutput: allocating can grow (and move) the heap.
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++)
        for (let k = 0; k < c; k++) {
          let best = -Infinity;
          let at = 0;
          for (let dy0 = 0; dy0 < fh; dy0++)
            for (let dx0 = 0; dx0 < fw; dx0++) {
              const i = ((b * h + y * sh + dy0) * w + xx * sw + dx0) * c + k;
              if ((x[i] as number) > best) {
                best = x[i] as number;
                at = i;
              }
            }
          dx[at] = (dx[at] as number) + (g[((b * oh + y) * ow + xx) * c + k] as number);
        }
  return out;
}

function toPair(value: unknown): [number, number] {
  return Array.isArray(value) ? [value[0] as number, value[1] as number] : [value as number, value as number];
}
