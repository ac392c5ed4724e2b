/**
 * Trains a digits classifier on the 60,000 MNIST training images and writes the versioned fixture that
 * the demo deploys:
 *   npm run train [-- --epochs 2 --batch 128 --lr 0.005 --warmup 100 --shift 0 --smooth 0 --seed 42 --arch cnn|light --out DIR]
 * (--epochs may be fractional: 2.5 ends halfway through the third pass, the schedule with it)
 * (the committed seed CNN fixture: --epochs 3 --lr 0.003; the committed light variant: --arch light --epochs 3 --lr 0.004)
 * `cnn` is the seed CNN (pipeline/fixtures/digits-cnn-v1.*), `light` the depthwise-separable variant
 * (pipeline/fixtures/digits-light-v1.*). TensorFlow.js on its WASM backend with the gradient kernels of
 * pipeline/src/wasm-kernels.ts; Adam with a linear warm-up and a cosine decay (training.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { accuracy, argmaxRows, buildCnn, predictAll, useWasmBackend } from './cnn.js';
import { fixturePaths, saveFixture } from './fixture.js';
import { buildLightCnn } from './light-cnn.js';
import { loadMnist } from './mnist.js';
import { modelInputs } from './preprocessing.js';
import { progressLine } from './progress.js';
import { cpuMsSince, trainClassifier } from './training.js';

const { values } = parseArgs({
  options: {
    // Two epochs at a peak of 5e-3 (issue 15: >= 99.0% within 5 minutes of training): 99.11 to 99.20% on six
    // seeds in 140 to 190 CPU s; at 3e-3 seeds 42, 7, 1 gave 98.96, 99.18, 99.06% (docs/pipeline.md).
    epochs: { type: 'string', default: '2' },
    seed: { type: 'string', default: '42' },
    batch: { type: 'string', default: '128' },
    lr: { type: 'string', default: '0.005' },
    warmup: { type: 'string', default: '100' },
    shift: { type: 'string', default: '0' },
    smooth: { type: 'string', default: '0' },
    arch: { type: 'string', default: 'cnn' },
    // Not pipeline/fixtures: the committed fixture (3 epochs at 3e-3, 99.11%) is what the int8, pruning and
    // pipeline.int figures are measured on; replace it on purpose with `--out pipeline/fixtures`.
    out: { type: 'string', default: '.edgefleet/train' },
  },
});
const arch = values.arch === 'light' ? 'light' : 'cnn';
const options = { epochs: Number(values.epochs), seed: Number(values.seed), batchSize: Number(values.batch), peakLearningRate: Number(values.lr), warmupSteps: Number(values.warmup), maxShift: Number(values.shift), labelSmoothing: Number(values.smooth) };
const invalid = [
  !(options.epochs > 0 && options.epochs <= 100) && '--epochs must be a number above 0 (fractions allowed), at most 100',
  !(Number.isInteger(options.batchSize) && options.batchSize >= 1 && options.batchSize <= 60_000) && '--batch must be a whole number from 1 to 60000',
  !(options.peakLearningRate > 0 && options.peakLearningRate < 1) && '--lr must be above 0 and below 1',
  !(Number.isInteger(options.warmupSteps) && options.warmupSteps >= 0) && '--warmup must be a whole number of batches, 0 or more',
  !(Number.isInteger(options.maxShift) && options.maxShift >= 0 && options.maxShift <= 4) && '--shift must be a whole number of pixels from 0 to 4',
  !(options.labelSmoothing >= 0 && options.labelSmoothing < 1) && '--smooth must be at least 0 and below 1',
  !Number.isInteger(options.seed) && '--seed must be a whole number',
].filter((problem): problem is string => typeof problem === 'string');
if (invalid.length > 0) {
  console.error(`npm run train: ${invalid.join('; ')}`);
  process.exit(2);
}

await useWasmBackend();
const { train, test } = loadMnist();
const model = arch === 'light' ? buildLightCnn(options.seed) : buildCnn(options.seed);
const history = await trainClassifier(model, {
  ...options,
  data: train,
  onBatch: (p) => {
    if (p.batch % 10 === 0 || p.batch === p.batches) process.stdout.write(progressLine({ ...p, epochs: Math.ceil(options.epochs) }));
    if (p.batch === p.batches) process.stdout.write('\n');
  },
});

const evaluationCpu = process.cpuUsage();
const all = Array.from({ length: test.count }, (_, i) => i);
const testAccuracy = accuracy(argmaxRows(await predictAll(model, modelInputs(test.images, all), test.count)), test.labels);
const evaluationCpuSeconds = cpuMsSince(evaluationCpu) / 1000;
const { secondsPerEpoch, cpuSecondsPerEpoch } = history;
const trainingCpuSeconds = cpuSecondsPerEpoch.reduce((a, s) => a + s, 0);
const list = (values: readonly number[]) => values.map((s) => s.toFixed(0)).join(', ');
console.log(`test accuracy on ${test.count} images: ${(testAccuracy * 100).toFixed(2)}%; seconds per epoch: ${list(secondsPerEpoch)}; CPU seconds per epoch: ${list(cpuSecondsPerEpoch)} (training ${trainingCpuSeconds.toFixed(0)}), evaluation ${evaluationCpuSeconds.toFixed(1)}`);
const paths = fixturePaths(arch, values.out);
await saveFixture(model, paths, {
  version: '1.0.0',
  seed: options.seed,
  epochs: options.epochs,
  batchSize: options.batchSize,
  learningRate: options.peakLearningRate,
  schedule: `linear warm-up over ${options.warmupSteps} batches to ${options.peakLearningRate}, cosine decay to 1% of it`,
  maxShift: options.maxShift,
  labelSmoothing: options.labelSmoothing,
  secondsPerEpoch,
  cpuSecondsPerEpoch,
  trainingCpuSeconds,
  evaluationCpuSeconds,
  testAccuracy,
  backend: `tfjs ${tf.version.tfjs} wasm`,
  trainedAt: new Date().toISOString(),
});
console.log(`wrote ${paths.bundle}`);
