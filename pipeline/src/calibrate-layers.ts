import * as tf from '@tensorflow/tfjs';
import type { Range } from './export-tflite.js';
import type { ModelLayer } from './model-layers.js';

/** Ranges seen on calibration images: the input, and each convolution's and dense layer's output (logits for a softmax). */
export interface LayerRanges {
  readonly input: Range;
  readonly outputs: ReadonlyMap<string, Range>;
}

/**
 * Runs the float model on calibration inputs and records the range of every tensor an int8 graph
 * quantises. A softmax layer's logits are not a tfjs tensor, so they are computed from its input and weights.
 */
export function calibrateLayers(model: tf.LayersModel, layers: readonly ModelLayer[], inputs: Float32Array, count: number): LayerRanges {
  const probed = layers.flatMap((l, i) => {
    if (l.kind === 'conv' || (l.kind === 'dense' && l.activation !== 'softmax')) return [{ layer: l, from: l.name, logits: false }];
    if (l.kind === 'dense') return [{ layer: l, from: layers[i - 1]?.name ?? '', logits: true }];
    return [];
  });
  // tfjs refuses a probe that lists one layer twice (a relu dense layer feeding the softmax one).
  const sources = [...new Set(probed.map((p) => p.from))];
  const probe = tf.model({ inputs: model.inputs, outputs: sources.map((s) => model.getLayer(s).output as tf.SymbolicTensor) });
  const ranges = probed.map((): [number, number] => [Infinity, -Infinity]);
  for (let start = 0; start < count; start += 250) {
    const size = Math.min(250, count - start);
    const outs = tf.tidy(() => [probe.predict(tf.tensor4d(inputs.subarray(start * 784, (start + size) * 784), [size, 28, 28, 1]))].flat() as tf.Tensor[]);
    probed.forEach((p, i) => {
      const data = outs[sources.indexOf(p.from)]?.dataSync() as Float32Array;
      const range = ranges[i] as [number, number];
      if (p.logits && p.layer.kind === 'dense') widenWithLogits(range, data, size, p.layer.weights);
      else for (const v of data) widen(range, v);
    });
    tf.dispose(outs);
  }
  let input: [number, number] = [Infinity, -Infinity];
  for (let i = 0; i < count * 784; i++) widen(input, inputs[i] as number);
  input = [Math.min(input[0], 0), Math.max(input[1], 1)];
  return { input, outputs: new Map(probed.map((p, i) => [p.layer.name, ranges[i] as Range])) };
}

function widenWithLogits(range: [number, number], hidden: Float32Array, rows: number, d: { kernel: Float32Array; bias: Float32Array; inputs: number; outputs: number }): void {
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < d.outputs; o++) {
      let sum = d.bias[o] as number;
      for (let i = 0; i < d.inputs; i++) sum += (hidden[r * d.inputs + i] as number) * (d.kernel[i * d.outputs + o] as number);
      widen(range, sum);
    }
}

function widen(range: [number, number], v: number): void {
  if (v < range[0]) range[0] = v;
  if (v > range[1]) range[1] = v;
}
