/**
 * Gradual magnitude pruning with fine-tuning of the committed seed CNN:
 *   npm run build && node dist/pipeline/src/prune.js [--sparsity 0.8 --images 12000 --lr 0.0005]
 * Fine-tunes on `images` training images (one pass) while the sparsity rises along a cubic to its target
 * over the first 70% of the steps (gradual-pruning.ts), then measures test accuracy and how much smaller
 * the fp32 ONNX becomes under gzip (the zeros compress; the file itself keeps its size: no sparse format).
 * Writes the row to pipeline/fixtures/digits-cnn-v1.pruning.json, and the pruned model as fp32 ONNX to
 * `.edgefleet/pipeline/digits-cnn-v1.pruned.onnx` (not committed): what `bench/wire-encoding` deploys
 * with `encoding=gzip`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { accuracy, argmaxRows, predictAll, useWasmBackend } from './cnn.js';
import { exportOnnx } from './export-onnx.js';
import { FIXTURE, loadBundle, PRUNED_ONNX } from './fixture.js';
import { MagnitudePruner, sparsityAt } from './gradual-pruning.js';
import { loadMnist } from './mnist.js';
import { withPrunedWeights } from './optimise.js';
import { modelInputs } from './preprocessing.js';
import { progressLine } from './progress.js';
import { seededRandom, trainClassifier } from './training.js';
import { cnnWeights } from './weights.js';

const { values } = parseArgs({ options: { sparsity: { type: 'string', default: '0.8' }, images: { type: 'string', default: '12000' }, lr: { type: 'string', default: '0.0005' }, seed: { type: 'string', default: '42' } } });
const target = Number(values.sparsity);
const images = Number(values.images);
const seed = Number(values.seed);
const batchSize = 64;

await useWasmBackend();
const { train, test } = loadMnist();
const model = await loadBundle();
const testInputs = modelInputs(test.images, Array.from({ length: test.count }, (_, i) => i));
const evaluate = async () => accuracy(argmaxRows(await predictAll(model, testInputs, test.count)), test.labels);
const gzipped = () => gzipSync(exportOnnx(cnnWeights(model)), { level: 9 }).length;
const dense = { accuracy: await evaluate(), onnxBytes: exportOnnx(cnnWeights(model)).length, gzipBytes: gzipped() };
const oneShot = await withPrunedWeights(model, target, evaluate);
console.log(`dense ${(dense.accuracy * 100).toFixed(2)}%; one-shot ${(target * 100).toFixed(0)}% without fine-tuning: ${(oneShot * 100).toFixed(2)}%`);

const random = seededRandom(seed);
const subset = Array.from({ length: train.count }, (_, i) => i)
  .sort(() => random() - 0.5)
  .slice(0, images);
const steps = Math.ceil(images / batchSize);
const endStep = Math.floor(steps * 0.7);
const pruner = new MagnitudePruner(model);
const started = Date.now();
await trainClassifier(model, {
  data: train,
  indices: subset,
  epochs: 1,
  batchSize,
  seed,
  peakLearningRate: Number(values.lr),
  warmupSteps: 1,
  floorRatio: 0.05,
  maxShift: 0,
  // Every 10 steps the masks follow the schedule; after every step they are re-applied.
  afterBatch: (step) => (step % 10 === 0 || step === endStep ? pruner.prune(sparsityAt(step, target, endStep)) : pruner.apply()),
  onBatch: (p) => p.batch % 10 === 0 && process.stdout.write(progressLine({ ...p, epochs: 1 })),
});
const fineTuneSeconds = (Date.now() - started) / 1000;
const sparsity = pruner.measuredSparsity(model);
const pruned = { accuracy: await evaluate(), gzipBytes: gzipped() };
await mkdir(dirname(PRUNED_ONNX), { recursive: true });
await writeFile(PRUNED_ONNX, exportOnnx(cnnWeights(model)));
pruner.dispose();
const row = { targetSparsity: target, measuredSparsity: sparsity, fineTuneImages: images, fineTuneSeconds, denseAccuracy: dense.accuracy, oneShotAccuracy: oneShot, prunedAccuracy: pruned.accuracy, onnxBytes: dense.onnxBytes, denseGzipBytes: dense.gzipBytes, prunedGzipBytes: pruned.gzipBytes, fixture: FIXTURE.replace(/^.*pipeline\//, 'pipeline/'), measuredAt: new Date().toISOString() };
console.log(`\n${JSON.stringify(row, null, 2)}`);
await writeFile(FIXTURE.replace('.tfjs.json', '.pruning.json'), `${JSON.stringify(row, null, 2)}\n`);
