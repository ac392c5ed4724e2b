import { compilePreprocessing, type Preprocessing } from '#inference';
import { PIXELS, SIDE } from './mnist.js';

/**
 * The digits model's input, defined once: grey bytes scaled to [0, 1], NHWC 28×28×1. Training uses it
 * through the agent's own preprocessing code, and the manifest carries it, so a node applies exactly the
 * transform the model was trained with.
 */
export const DIGITS_PREPROCESSING: Preprocessing = { scale: 1 / 255, layout: 'NHWC' };
export const INPUT_SHAPE = [1, SIDE, SIDE, 1] as const;

const transform = compilePreprocessing(DIGITS_PREPROCESSING, INPUT_SHAPE);

/** Image `index` of a set of raw bytes as the model's input. */
export function modelInput(images: Uint8Array, index: number): Float32Array {
  return transform(Float32Array.from(images.subarray(index * PIXELS, (index + 1) * PIXELS)));
}

/** Many images at once, for batched training and evaluation: [n, 28, 28, 1] flattened. */
export function modelInputs(images: Uint8Array, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * PIXELS);
  indices.forEach((index, i) => out.set(modelInput(images, index), i * PIXELS));
  return out;
}
