import * as tf from '@tensorflow/tfjs';

/**
 * Gradual magnitude pruning (Zhu & Gupta, 2017): the sparsity rises from 0 to `target` along a cubic
 * over the pruning steps, fast at first while the network can still recover, slowly at the end.
 */
export function sparsityAt(step: number, target: number, endStep: number): number {
  const progress = Math.min(1, Math.max(0, step / endStep));
  return target * (1 - (1 - progress) ** 3);
}

/** Kernels smaller than this are left dense: a first convolution of 288 weights is where pruning hurts most. */
const SMALLEST_PRUNED = 1000;

/**
 * Keeps a 0/1 mask per prunable kernel (conv and dense kernels, not biases) and re-applies it after every
 * optimiser step, so pruned weights stay zero while the others fine-tune. Large kernels are pruned a little
 * more than `sparsity` so that the share of zeros over all kernel weights is exactly `sparsity`.
 */
export class MagnitudePruner {
  private readonly kernels: tf.LayerVariable[];
  private masks: tf.Tensor[] = [];
  private readonly total: number;
  private readonly prunable: number;

  constructor(model: tf.LayersModel) {
    const all = model.trainableWeights.filter((w) => w.read().shape.length > 1);
    this.total = all.reduce((n, w) => n + size(w.read().shape), 0);
    this.kernels = all.filter((w) => size(w.read().shape) >= SMALLEST_PRUNED);
    this.prunable = this.kernels.reduce((n, w) => n + size(w.read().shape), 0);
  }

  /** Recomputes the masks: in each prunable kernel, its smallest-magnitude share of weights becomes zero. */
  prune(sparsity: number): void {
    const share = Math.min(1, (sparsity * this.total) / this.prunable);
    tf.dispose(this.masks);
    this.masks = this.kernels.map((w) => {
      const values = w.read().dataSync();
      const order = Array.from(values.keys()).sort((x, y) => Math.abs(values[x] as number) - Math.abs(values[y] as number));
      const mask = new Float32Array(values.length).fill(1);
      for (const j of order.slice(0, Math.floor(share * values.length))) mask[j] = 0;
      return tf.tensor(mask, w.read().shape);
    });
    this.apply();
  }

  apply(): void {
    this.kernels.forEach((w, i) => {
      const mask = this.masks[i];
      if (!mask) return;
      const masked = tf.mul(w.read(), mask);
      w.write(masked); // the variable takes the tensor's data and holds its own reference to it
      masked.dispose();
    });
  }

  /** The share of zeros over all kernel weights (biases excluded), measured on the weights themselves. */
  measuredSparsity(model: tf.LayersModel): number {
    let zeros = 0;
    for (const w of model.trainableWeights.filter((v) => v.read().shape.length > 1)) for (const v of w.read().dataSync()) if (v === 0) zeros++;
    return zeros / this.total;
  }

  dispose(): void {
    tf.dispose(this.masks);
  }
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}
