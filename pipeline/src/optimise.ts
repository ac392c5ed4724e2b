import * as tf from '@tensorflow/tfjs';
import type { ActivationRanges, Range } from './export-tflite.js';
import type { CnnWeights } from './weights.js';

/**
 * Calibration for int8: runs the float model on calibration inputs and records the range of each tensor
 * the quantised graph stores (the input, each convolution's relu output, the first dense layer's, and the
 * logits before the softmax, computed from the dense output and the last layer's weights).
 */
export function calibrate(model: tf.LayersModel, inputs: Float32Array, count: number, w: CnnWeights): ActivationRanges {
  const names = ['conv1', 'conv2', 'conv3', 'dense1'];
  const probe = tf.model({ inputs: model.inputs, outputs: names.map((n) => model.getLayer(n).output as tf.SymbolicTensor) });
  const ranges = names.map((): [number, number] => [Infinity, -Infinity]);
  const logits: [number, number] = [Infinity, -Infinity];
  const d2 = w.dense[1];
  for (let start = 0; start < count; start += 250) {
    const size = Math.min(250, count - start);
    const outs = tf.tidy(() => probe.predict(tf.tensor4d(inputs.subarray(start * 784, (start + size) * 784), [size, 28, 28, 1])) as tf.Tensor[]);
    outs.forEach((t, i) => {
      const data = t.dataSync();
      for (const v of data) widen(ranges[i] as [number, number], v);
    });
    const hidden = outs[3]?.dataSync() as Float32Array;
    for (let r = 0; r < size; r++)
      for (let o = 0; o < d2.outputs; o++) {
        let sum = d2.bias[o] as number;
        for (let i = 0; i < d2.inputs; i++) sum += (hidden[r * d2.inputs + i] as number) * (d2.kernel[i * d2.outputs + o] as number);
        widen(logits, sum);
      }
    tf.dispose(outs);
  }
  let inputRange: [number, number] = [Infinity, -Infinity];
  for (let i = 0; i < count * 784; i++) widen(inputRange, inputs[i] as number);
  inputRange = [Math.min(inputRange[0], 0), Math.max(inputRange[1], 1)];
  return { input: inputRange, convs: [ranges[0] as Range, ranges[1] as Range, ranges[2] as Range], dense1: ranges[3] as Range, logits };
}

function widen(range: [number, number], v: number): void {
  if (v < range[0]) range[0] = v;
  if (v > range[1]) range[1] = v;
}

/**
 * One-shot magnitude pruning: in every convolution and dense kernel, the `sparsity` fraction of weights
 * with the smallest magnitude is set to zero (biases kept). No fine-tuning afterwards, so the accuracy
 * is what pruning alone costs. Runs `use` with the pruned weights in place, then restores the originals.
 */
export async function withPrunedWeights<T>(model: tf.LayersModel, sparsity: number, use: () => Promise<T>): Promise<T> {
  const original = model.getWeights().map((t) => t.clone());
  const pruned = original.map((t, i) => {
    if (i % 2 === 1) return t.clone(); // biases
    const data = Float32Array.from(t.dataSync());
    const order = Array.from(data.keys()).sort((a, b) => Math.abs(data[a] as number) - Math.abs(data[b] as number));
    for (const j of order.slice(0, Math.floor(sparsity * data.length))) data[j] = 0;
    return tf.tensor(data, t.shape);
  });
  model.setWeights(pruned);
  try {
    return await use();
  } finally {
    model.setWeights(original);
    tf.dispose([...original, ...pruned]);
  }
}
