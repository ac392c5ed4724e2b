/**
 * Trains the seed's digits CNN on the 60,000 MNIST training images and writes the versioned fixture
 * (pipeline/fixtures/digits-cnn-v1.*) that the demo deploys:
 *   npm run train [-- --epochs 2 --seed 42]
 * TensorFlow.js on its WASM backend with three gradient kernels registered (pipeline/src/wasm-kernels.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { accuracy, argmaxRows, buildCnn, predictAll, useWasmBackend } from './cnn.js';
import { FIXTURE, saveFixture } from './fixture.js';
import { loadMnist } from './mnist.js';
import { modelInputs } from './preprocessing.js';
import { progressLine } from './progress.js';

const { values } = parseArgs({ options: { epochs: { type: 'string', default: '2' }, seed: { type: 'string', default: '42' }, batch: { type: 'string', default: '64' } } });
const epochs = Number(values.epochs);
const seed = Number(values.seed);
const batchSize = Number(values.batch);
const learningRate = 1e-3;

await useWasmBackend();
const { train, test } = loadMnist();
const model = buildCnn(seed);
model.compile({ optimizer: tf.train.adam(learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

let state = seed >>> 0;
const random = () => {
  state = (state * 1664525 + 1013904223) >>> 0;
  return state / 2 ** 32;
};
const order = Array.from({ length: train.count }, (_, i) => i);
const batches = Math.ceil(train.count / batchSize);
const secondsPerEpoch: number[] = [];

for (let epoch = 1; epoch <= epochs; epoch++) {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const started = Date.now();
  let [lossSum, accSum] = [0, 0];
  for (let b = 0; b < batches; b++) {
    const indices = order.slice(b * batchSize, (b + 1) * batchSize);
    const xs = tf.tensor4d(modelInputs(train.images, indices), [indices.length, 28, 28, 1]);
    const ys = tf.oneHot(tf.tensor1d(Int32Array.from(indices.map((i) => train.labels[i] as number)), 'int32'), 10);
    const [loss, acc] = (await model.trainOnBatch(xs, ys)) as number[];
    tf.dispose([xs, ys]);
    lossSum += loss as number;
    accSum += acc as number;
    if (b % 10 === 0 || b === batches - 1) {
      process.stdout.write(progressLine({ epoch, epochs, batch: b + 1, batches, loss: lossSum / (b + 1), accuracy: accSum / (b + 1), elapsedMs: Date.now() - started }));
    }
  }
  secondsPerEpoch.push((Date.now() - started) / 1000);
  process.stdout.write('\n');
}

const all = Array.from({ length: test.count }, (_, i) => i);
const testAccuracy = accuracy(argmaxRows(await predictAll(model, modelInputs(test.images, all), test.count)), test.labels);
console.log(`test accuracy on ${test.count} images: ${(testAccuracy * 100).toFixed(2)}%; seconds per epoch: ${secondsPerEpoch.map((s) => s.toFixed(0)).join(', ')}`);
await saveFixture(model, { version: '1.0.0', seed, epochs, batchSize, learningRate, secondsPerEpoch, testAccuracy, backend: `tfjs ${tf.version.tfjs} wasm`, trainedAt: new Date().toISOString() });
console.log(`wrote ${FIXTURE}`);
