import { type TfliteOperator, type TfliteTensor, writeTflite } from '#tflite';
import { convKernel, denseKernelOutIn, type CnnWeights } from './weights.js';

/** Activation ranges seen on calibration images, one per quantised tensor of the graph. */
export interface ActivationRanges {
  readonly input: Range;
  readonly convs: readonly [Range, Range, Range];
  readonly dense1: Range;
  readonly logits: Range;
}
export type Range = readonly [min: number, max: number];

/** Spatial sizes after each convolution and pooling of the seed CNN on 28×28 inputs. */
const CONV_OUT = [26, 11, 3];
const POOL_OUT = [13, 5];

/**
 * The trained CNN as a float32 TFLite model: NHWC throughout (TFLite's native layout), filters OHWI,
 * dense weights [out, in]; relu fused into the convolutions and the first dense layer.
 */
export function exportTfliteFp32(w: CnnWeights): Uint8Array {
  const g = new GraphBuilder();
  let x = g.tensor({ name: 'input', shape: [1, 28, 28, 1], type: 'float32' });
  const input = x;
  w.convs.forEach((c, i) => {
    const [kh, kw, ci, co] = c.shape;
    const filter = g.tensor({ name: `conv${i + 1}_w`, shape: [co, kh, kw, ci], type: 'float32', data: convKernel(c, 'OHWI') });
    const bias = g.tensor({ name: `conv${i + 1}_b`, shape: [co], type: 'float32', data: c.bias });
    const size = CONV_OUT[i] as number;
    x = g.op({ op: 'CONV_2D', padding: 'valid', stride: 1, activation: 'relu' }, [x, filter, bias], { name: `conv${i + 1}`, shape: [1, size, size, co], type: 'float32' });
    if (i < 2) {
      const pooled = POOL_OUT[i] as number;
      x = g.op({ op: 'MAX_POOL_2D', padding: 'valid', stride: 2, filter: 2 }, [x], { name: `pool${i + 1}`, shape: [1, pooled, pooled, co], type: 'float32' });
    }
  });
  const [d1, d2] = w.dense;
  x = g.op({ op: 'RESHAPE', newShape: [1, d1.inputs] }, [x, g.tensor({ name: 'flat_shape', shape: [2], type: 'int32', data: Int32Array.from([1, d1.inputs]) })], {
    name: 'flat',
    shape: [1, d1.inputs],
    type: 'float32',
  });
  const dense = (d: typeof d1, name: string, activation: 'relu' | 'none', at: number) =>
    g.op(
      { op: 'FULLY_CONNECTED', activation },
      [at, g.tensor({ name: `${name}_w`, shape: [d.outputs, d.inputs], type: 'float32', data: denseKernelOutIn(d) }), g.tensor({ name: `${name}_b`, shape: [d.outputs], type: 'float32', data: d.bias })],
      { name, shape: [1, d.outputs], type: 'float32' },
    );
  x = dense(d2, 'logits', 'none', dense(d1, 'dense1', 'relu', x));
  const probabilities = g.op({ op: 'SOFTMAX' }, [x], { name: 'probabilities', shape: [1, d2.outputs], type: 'float32' });
  return writeTflite({ tensors: g.tensors, operators: g.operators, inputs: [input], outputs: [probabilities], description: 'digits cnn fp32' });
}

/**
 * Post-training full-integer quantisation, TFLite's scheme: int8 activations (asymmetric, per tensor,
 * ranges from calibration), int8 weights (symmetric; per output channel for convolutions, per tensor for
 * dense layers), int32 biases at input scale × weight scale. The model keeps float32 input and output:
 * QUANTIZE first, DEQUANTIZE before a float softmax. Max-pool and reshape keep their input's parameters.
 */
export function exportTfliteInt8(w: CnnWeights, ranges: ActivationRanges): Uint8Array {
  const g = new GraphBuilder();
  const input = g.tensor({ name: 'input', shape: [1, 28, 28, 1], type: 'float32' });
  let q = activation(ranges.input);
  let x = g.op({ op: 'QUANTIZE' }, [input], { name: 'input_q', shape: [1, 28, 28, 1], type: 'int8', quantization: q });
  w.convs.forEach((c, i) => {
    const [kh, kw, ci, co] = c.shape;
    const filter = quantiseSymmetric(convKernel(c, 'OHWI'), co);
    const bias = quantiseBias(c.bias, q.scale[0] as number, filter.scales);
    const out = activation(ranges.convs[i] as Range);
    const size = CONV_OUT[i] as number;
    x = g.op(
      { op: 'CONV_2D', padding: 'valid', stride: 1, activation: 'relu' },
      [
        x,
        g.tensor({ name: `conv${i + 1}_w`, shape: [co, kh, kw, ci], type: 'int8', data: filter.values, quantization: { scale: filter.scales, zeroPoint: filter.scales.map(() => 0), quantizedDimension: 0 } }),
        g.tensor({ name: `conv${i + 1}_b`, shape: [co], type: 'int32', data: bias, quantization: { scale: bias.scales, zeroPoint: bias.scales.map(() => 0), quantizedDimension: 0 } }),
      ],
      { name: `conv${i + 1}`, shape: [1, size, size, co], type: 'int8', quantization: out },
    );
    q = out;
    if (i < 2) {
      const pooled = POOL_OUT[i] as number;
      x = g.op({ op: 'MAX_POOL_2D', padding: 'valid', stride: 2, filter: 2 }, [x], { name: `pool${i + 1}`, shape: [1, pooled, pooled, co], type: 'int8', quantization: q });
    }
  });
  const [d1, d2] = w.dense;
  x = g.op({ op: 'RESHAPE', newShape: [1, d1.inputs] }, [x, g.tensor({ name: 'flat_shape', shape: [2], type: 'int32', data: Int32Array.from([1, d1.inputs]) })], {
    name: 'flat',
    shape: [1, d1.inputs],
    type: 'int8',
    quantization: q,
  });
  const dense = (d: typeof d1, name: string, act: 'relu' | 'none', at: number, range: Range) => {
    const weights = quantiseSymmetric(denseKernelOutIn(d), 1);
    const bias = quantiseBias(d.bias, q.scale[0] as number, Array.from({ length: d.outputs }, () => weights.scales[0] as number));
    const out = activation(range);
    const y = g.op(
      { op: 'FULLY_CONNECTED', activation: act },
      [
        at,
        g.tensor({ name: `${name}_w`, shape: [d.outputs, d.inputs], type: 'int8', data: weights.values, quantization: { scale: weights.scales, zeroPoint: [0] } }),
        g.tensor({ name: `${name}_b`, shape: [d.outputs], type: 'int32', data: bias, quantization: { scale: [bias.scales[0] as number], zeroPoint: [0] } }),
      ],
      { name, shape: [1, d.outputs], type: 'int8', quantization: out },
    );
    q = out;
    return y;
  };
  x = dense(d2, 'logits', 'none', dense(d1, 'dense1', 'relu', x, ranges.dense1), ranges.logits);
  const logits = g.op({ op: 'DEQUANTIZE' }, [x], { name: 'logits_f', shape: [1, d2.outputs], type: 'float32' });
  const probabilities = g.op({ op: 'SOFTMAX' }, [logits], { name: 'probabilities', shape: [1, d2.outputs], type: 'float32' });
  return writeTflite({ tensors: g.tensors, operators: g.operators, inputs: [input], outputs: [probabilities], description: 'digits cnn int8' });
}

/** Asymmetric int8 parameters covering [min, max] (widened to include 0, as TFLite requires). */
export function activation([min, max]: Range): { scale: number[]; zeroPoint: number[] } {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max, lo + 1e-6);
  const scale = (hi - lo) / 255;
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
  return { scale: [scale], zeroPoint: [zeroPoint] };
}

/** Symmetric int8 over `channels` equal slices of `values` (slice = one output channel). */
export function quantiseSymmetric(values: Float32Array, channels: number, qmax = 127): { values: Int8Array; scales: number[] } {
  const per = values.length / channels;
  const scales = Array.from({ length: channels }, (_, c) => {
    let max = 0;
    for (let i = c * per; i < (c + 1) * per; i++) max = Math.max(max, Math.abs(values[i] as number));
    return max > 0 ? max / qmax : 1;
  });
  const out = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.max(-qmax, Math.min(qmax, Math.round((values[i] as number) / (scales[Math.floor(i / per)] as number))));
  return { values: out, scales };
}

function quantiseBias(bias: Float32Array, inputScale: number, weightScales: readonly number[]): Int32Array & { scales: number[] } {
  const scales = weightScales.map((s) => s * inputScale);
  const out = Int32Array.from(bias, (b, c) => Math.round(b / (scales[c] as number))) as Int32Array & { scales: number[] };
  out.scales = scales;
  return out;
}

/** Collects tensors and operators; each op's output tensor is created with it. */
class GraphBuilder {
  readonly tensors: TfliteTensor[] = [];
  readonly operators: TfliteOperator[] = [];

  tensor(t: TfliteTensor): number {
    return this.tensors.push(t) - 1;
  }

  op(op: DistributiveOmit<TfliteOperator, 'inputs' | 'outputs'>, inputs: number[], output: TfliteTensor): number {
    const out = this.tensor(output);
    this.operators.push({ ...op, inputs, outputs: [out] } as TfliteOperator);
    return out;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
