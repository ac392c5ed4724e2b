import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { accuracy, argmaxRows, buildCnn, predictAll, useWasmBackend } from './cnn.js';
import { buildLightCnn } from './light-cnn.js';
import { loadMnist } from './mnist.js';
import { modelInputs } from './preprocessing.js';
import { learningRateAt, targets, trainClassifier } from './training.js';

/**
 * A short real training (1,536 MNIST images, one epoch) of both architectures through the same code as
 * `npm run train`, so the training path cannot rot: the loss must fall and the model must beat chance
 * (10%) by a wide margin on 1,000 test images it never saw.
 */
describe('training (short run on real MNIST)', () => {
  const { train, test } = loadMnist();
  const subset = Array.from({ length: 1536 }, (_, i) => i);
  const held = Array.from({ length: 1000 }, (_, i) => i);

  beforeAll(() => useWasmBackend());

  const run = async (model: tf.LayersModel, maxShift: number) => {
    const history = await trainClassifier(model, { data: train, indices: subset, epochs: 1, batchSize: 32, seed: 7, peakLearningRate: 0.003, warmupSteps: 5, maxShift });
    const predicted = argmaxRows(await predictAll(model, modelInputs(test.images, held), held.length));
    return { history, accuracy: accuracy(predicted, test.labels.subarray(0, held.length)) };
  };

  it('the seed CNN (with one-pixel shifts) learns: loss falls by a third, accuracy above 70%', async () => {
    const { history, accuracy: acc } = await run(buildCnn(7), 1);
    expect(history.lastLoss).toBeLessThan(history.firstLoss * 0.67);
    expect(acc).toBeGreaterThan(0.7);
  }, 120_000);

  it('the depthwise-separable variant learns: loss falls, accuracy above 30%', async () => {
    const { history, accuracy: acc } = await run(buildLightCnn(7), 0);
    expect(history.lastLoss).toBeLessThan(history.firstLoss * 0.9);
    expect(acc).toBeGreaterThan(0.3);
  }, 120_000);

  it('a fractional epoch count is a step budget: 1.5 epochs of 48 batches stop after 72, halfway through the second', async () => {
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10, activation: 'softmax' })] });
    const seen: { epoch: number; batch: number; batches: number }[] = [];
    const onBatch = ({ epoch, batch, batches }: { epoch: number; batch: number; batches: number }) => seen.push({ epoch, batch, batches });
    const history = await trainClassifier(model, { data: train, indices: subset, epochs: 1.5, batchSize: 32, seed: 7, peakLearningRate: 0.003, warmupSteps: 5, maxShift: 0, onBatch });
    expect(seen).toHaveLength(72);
    expect(seen.at(-1)).toEqual({ epoch: 2, batch: 24, batches: 24 });
    expect(history.cpuSecondsPerEpoch).toHaveLength(2);
  }, 60_000);

  it('label smoothing spreads ε over the ten classes; 0 gives one-hot rows', () => {
    const labels = Uint8Array.from([3, 0]);
    expect(Array.from(targets(labels, [1, 0], 0))).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    const smoothed = targets(labels, [0], 0.1);
    expect(smoothed[3]).toBeCloseTo(0.91);
    expect(smoothed[0]).toBeCloseTo(0.01);
    expect(smoothed.reduce((a, v) => a + v, 0)).toBeCloseTo(1);
  });

  it('the schedule warms up linearly, peaks, then decays along a cosine to its floor', () => {
    const s = { peak: 1, floor: 0.01, warmupSteps: 10, totalSteps: 110 };
    expect(learningRateAt(0, s)).toBeCloseTo(0.1);
    expect(learningRateAt(9, s)).toBeCloseTo(1);
    expect(learningRateAt(60, s)).toBeCloseTo(0.505);
    expect(learningRateAt(110, s)).toBeCloseTo(0.01);
    expect(learningRateAt(200, s)).toBeCloseTo(0.01);
  });
});
