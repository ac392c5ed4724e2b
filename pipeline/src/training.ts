import * as tf from '@tensorflow/tfjs';
import type { DigitSet } from './mnist.js';
import { PIXELS, SIDE } from './mnist.js';
import { modelInputs } from './preprocessing.js';

/** Linear warm-up to `peak`, then a cosine decay to `floor` at `totalSteps` (one step = one batch). */
export interface LearningRateSchedule {
  readonly peak: number;
  readonly floor: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
}

export function learningRateAt(step: number, s: LearningRateSchedule): number {
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  const progress = Math.min(1, (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps));
  return s.floor + ((s.peak - s.floor) * (1 + Math.cos(Math.PI * progress))) / 2;
}

/**
 * Adam whose learning rate can change between batches: TensorFlow.js reads `learningRate` on every
 * update but keeps the field protected, so a subclass is the typed way to drive a schedule.
 */
export class ScheduledAdam extends tf.AdamOptimizer {
  constructor(initial: number) {
    super(initial, 0.9, 0.999, 1e-7);
  }

  setLearningRate(rate: number): void {
    this.learningRate = rate;
  }
}

/** A seeded generator (LCG) so shuffles and shifts are the same on every run with the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export interface TrainingOptions {
  readonly data: DigitSet;
  /** The images to train on (all of `data` by default; a subset for the smoke test). */
  readonly indices?: readonly number[];
  /** Passes over the images; a fraction ends the last pass early (2.5 = two passes and half of a third). */
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  /** Peak learning rate; warm-up over `warmupSteps` batches, cosine decay to `peak × floorRatio`. */
  readonly peakLearningRate: number;
  readonly warmupSteps: number;
  readonly floorRatio?: number;
  /** Each training image is shifted by up to this many pixels in x and y (0 = no augmentation). */
  readonly maxShift: number;
  /** Label smoothing: targets of 1 − ε for the class and ε/10 for every class (0 = one-hot). */
  readonly labelSmoothing?: number;
  /** Called after each batch with the running mean loss and accuracy of the epoch. */
  readonly onBatch?: (p: BatchProgress) => void;
  /** Called after each optimiser step with its index, e.g. to re-apply a pruning mask to the updated weights. */
  readonly afterBatch?: (step: number) => void;
}

export interface BatchProgress {
  readonly epoch: number;
  readonly batch: number;
  readonly batches: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly elapsedMs: number;
  /** CPU time of this process since the epoch began (user + system, all its threads). */
  readonly cpuMs: number;
}

export interface TrainingHistory {
  readonly secondsPerEpoch: number[];
  /**
   * CPU seconds of this process per epoch. The WASM backend runs on one thread in Node, so on a quiet
   * machine this is about the wall time; on a shared one it is the figure that still means something.
   */
  readonly cpuSecondsPerEpoch: number[];
  /** Mean training loss of each epoch. */
  readonly epochLoss: number[];
  /** Mean loss of the first and the last 10% of all batches: whether training learnt anything. */
  readonly firstLoss: number;
  readonly lastLoss: number;
}

/** Compiles and trains a softmax classifier: Adam, a warm-up + cosine schedule per batch, optional shifts. */
export async function trainClassifier(model: tf.LayersModel, o: TrainingOptions): Promise<TrainingHistory> {
  const order = [...(o.indices ?? Array.from({ length: o.data.count }, (_, i) => i))];
  const batches = Math.ceil(order.length / o.batchSize);
  // The step budget: the schedule ends exactly where training does, also within an epoch.
  const totalSteps = Math.max(1, Math.round(batches * o.epochs));
  const schedule = { peak: o.peakLearningRate, floor: o.peakLearningRate * (o.floorRatio ?? 0.01), warmupSteps: o.warmupSteps, totalSteps };
  const optimizer = new ScheduledAdam(learningRateAt(0, schedule));
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const random = seededRandom(o.seed);
  const losses: number[] = [];
  const history = { secondsPerEpoch: [] as number[], cpuSecondsPerEpoch: [] as number[], epochLoss: [] as number[] };
  for (let epoch = 1; (epoch - 1) * batches < totalSteps; epoch++) {
    const batchesThisEpoch = Math.min(batches, totalSteps - (epoch - 1) * batches);
    shuffle(order, random);
    const started = Date.now();
    const cpuStarted = process.cpuUsage();
    let [lossSum, accSum] = [0, 0];
    for (let b = 0; b < batchesThisEpoch; b++) {
      const step = (epoch - 1) * batches + b;
      optimizer.setLearningRate(learningRateAt(step, schedule));
      const indices = order.slice(b * o.batchSize, (b + 1) * o.batchSize);
      const [loss, acc] = await trainBatch(model, o.data, indices, { maxShift: o.maxShift, labelSmoothing: o.labelSmoothing ?? 0 }, random);
      o.afterBatch?.(step);
      losses.push(loss);
      lossSum += loss;
      accSum += acc;
      o.onBatch?.({ epoch, batch: b + 1, batches: batchesThisEpoch, loss: lossSum / (b + 1), accuracy: accSum / (b + 1), elapsedMs: Date.now() - started, cpuMs: cpuMsSince(cpuStarted) });
    }
    history.secondsPerEpoch.push((Date.now() - started) / 1000);
    history.cpuSecondsPerEpoch.push(cpuMsSince(cpuStarted) / 1000);
    history.epochLoss.push(lossSum / batchesThisEpoch);
  }
  const tenth = Math.max(1, Math.floor(losses.length / 10));
  return { ...history, firstLoss: mean(losses.slice(0, tenth)), lastLoss: mean(losses.slice(-tenth)) };
}

async function trainBatch(model: tf.LayersModel, data: DigitSet, indices: readonly number[], o: { maxShift: number; labelSmoothing: number }, random: () => number): Promise<[number, number]> {
  const images = o.maxShift > 0 ? shiftedImages(data.images, indices, o.maxShift, random) : undefined;
  const inputs = images ? modelInputs(images, indices.map((_, i) => i)) : modelInputs(data.images, indices);
  const xs = tf.tensor4d(inputs, [indices.length, SIDE, SIDE, 1]);
  const ys = tf.tensor2d(targets(data.labels, indices, o.labelSmoothing), [indices.length, CLASSES]);
  try {
    const [loss, acc] = (await model.trainOnBatch(xs, ys)) as [number, number];
    return [loss, acc];
  } finally {
    tf.dispose([xs, ys]);
  }
}

const CLASSES = 10;

/** One row per image: one-hot, or smoothed to 1 − ε + ε/10 for its class and ε/10 for the others. */
export function targets(labels: Uint8Array, indices: readonly number[], smoothing: number): Float32Array {
  const out = new Float32Array(indices.length * CLASSES).fill(smoothing / CLASSES);
  indices.forEach((index, n) => {
    out[n * CLASSES + (labels[index] as number)] = 1 - smoothing + smoothing / CLASSES;
  });
  return out;
}

/** Copies of the chosen images, each moved by a random whole-pixel offset in [−max, max]² (zero fill). */
export function shiftedImages(images: Uint8Array, indices: readonly number[], max: number, random: () => number): Uint8Array {
  const out = new Uint8Array(indices.length * PIXELS);
  indices.forEach((index, n) => {
    const dx = Math.floor(random() * (2 * max + 1)) - max;
    const dy = Math.floor(random() * (2 * max + 1)) - max;
    const src = index * PIXELS;
    for (let y = 0; y < SIDE; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= SIDE) continue;
      for (let x = 0; x < SIDE; x++) {
        const sx = x - dx;
        if (sx >= 0 && sx < SIDE) out[n * PIXELS + y * SIDE + x] = images[src + sy * SIDE + sx] as number;
      }
    }
  });
  return out;
}

function shuffle(order: number[], random: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
}

/** User + system CPU milliseconds of this process since `start` (a `process.cpuUsage()` reading). */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1000;
}

function mean(values: readonly number[]): number {
  return values.reduce((a, v) => a + v, 0) / values.length;
}
