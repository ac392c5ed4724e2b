import type * as tf from '@tensorflow/tfjs';

/** A convolution as TensorFlow.js holds it: kernel [kh, kw, in, out] (HWIO), bias [out]. */
export interface ConvWeights {
  readonly kernel: Float32Array;
  readonly shape: readonly [number, number, number, number];
  readonly bias: Float32Array;
}

/** A dense layer as TensorFlow.js holds it: kernel [in, out], bias [out]. */
export interface DenseWeights {
  readonly kernel: Float32Array;
  readonly inputs: number;
  readonly outputs: number;
  readonly bias: Float32Array;
}

/** The seed CNN's parameters, in layer order: three convolutions, two dense layers. */
export interface CnnWeights {
  readonly convs: readonly [ConvWeights, ConvWeights, ConvWeights];
  readonly dense: readonly [DenseWeights, DenseWeights];
}

export function cnnWeights(model: tf.LayersModel): CnnWeights {
  const w = model.getWeights().map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
  if (w.length !== 10) throw new Error(`expected the seed CNN's 10 weight tensors, got ${w.length}`);
  const conv = (i: number): ConvWeights => ({ kernel: w[i]!.data, shape: w[i]!.shape as [number, number, number, number], bias: w[i + 1]!.data });
  const dense = (i: number): DenseWeights => ({ kernel: w[i]!.data, inputs: w[i]!.shape[0] as number, outputs: w[i]!.shape[1] as number, bias: w[i + 1]!.data });
  return { convs: [conv(0), conv(2), conv(4)], dense: [dense(6), dense(8)] };
}

/** Reorders a convolution kernel from HWIO to `layout` (OIHW for ONNX, OHWI for TFLite). */
export function convKernel(c: ConvWeights, layout: 'OIHW' | 'OHWI'): Float32Array {
  const [kh, kw, ci, co] = c.shape;
  const out = new Float32Array(c.kernel.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) {
          const to = layout === 'OIHW' ? ((o * ci + i) * kh + y) * kw + x : ((o * kh + y) * kw + x) * ci + i;
          out[to] = c.kernel[((y * kw + x) * ci + i) * co + o] as number;
        }
  return out;
}

/** A dense kernel [in, out] transposed to [out, in] (TFLite's FULLY_CONNECTED layout). */
export function denseKernelOutIn(d: DenseWeights): Float32Array {
  const out = new Float32Array(d.kernel.length);
  for (let i = 0; i < d.inputs; i++) for (let o = 0; o < d.outputs; o++) out[o * d.inputs + i] = d.kernel[i * d.outputs + o] as number;
  return out;
}
