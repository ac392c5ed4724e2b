import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceStatsSchema } from '#protocol';
import { type OfflineReport, runOfflinePipeline } from './pipeline.js';

/** The seed pipeline's offline half on the committed trained model, against the bars. */
describe('seed pipeline (offline)', () => {
  let dir: string;
  let report: OfflineReport;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-pipeline-'));
    report = await runOfflinePipeline(dir, () => undefined);
  }, 600_000); // six exports over 10,000 images and five latency comparisons, on a shared machine
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('the trained CNN scores at least 99% on the 10,000 MNIST test images', () => {
    expect(report.testImages).toBe(10_000);
    expect(report.trainedAccuracy).toBeGreaterThanOrEqual(0.99);
    expect(report.trainedAccuracy).toBeCloseTo(report.training.testAccuracy, 6); // the fixture is what training wrote
  });

  it('the ONNX and TFLite exports agree with the trained model (max |Δ| <= 1e-4, same class on >= 99.9%)', () => {
    for (const e of [report.exports.onnx, report.exports.tfliteFp32]) {
      expect(e.maxAbsDiff).toBeLessThanOrEqual(1e-4);
      expect(e.classAgreement).toBeGreaterThanOrEqual(0.999);
    }
  });

  it('int8 is at most 30% of the fp32 size and loses at most one accuracy point', () => {
    expect(report.int8.sizeRatio).toBeLessThanOrEqual(0.3);
    expect(report.int8.accuracyDelta).toBeGreaterThanOrEqual(-0.01);
    expect(report.exports.tfliteInt8.classAgreement).toBeGreaterThan(0.99);
  });

  it('int8 ONNX (QDQ) is at most 30% of the fp32 ONNX, loses at most one point and agrees with the trained model', () => {
    const q = report.exports.onnxInt8;
    expect(report.onnxInt8.sizeRatio).toBeLessThanOrEqual(0.3);
    expect(report.onnxInt8.accuracyDelta).toBeGreaterThanOrEqual(-0.01);
    expect(q.classAgreement).toBeGreaterThan(0.99);
    expect(q.maxAbsDiff).toBeLessThan(0.2);
    expect(q.maxAbsDiff).toBeGreaterThan(0); // it is quantised, not the float graph again
  });

  it('the lightweight variant has under a quarter of the parameters, and its ONNX exports agree with it', () => {
    const light = report.light;
    expect(light).toBeDefined();
    if (!light) return;
    expect(light.parameters).toBeLessThan(light.seedParameters / 4);
    expect(light.trainedAccuracy).toBeCloseTo(light.training.testAccuracy, 6);
    expect(light.fp32.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(light.int8.classAgreement).toBeGreaterThan(0.99);
    expect(light.vsSeed.sizeRatio).toBeLessThan(0.25);
  });

  it('pruning more weights never helps: accuracy falls as sparsity rises', () => {
    const accuracies = report.pruning.map((p) => p.accuracy);
    expect(accuracies).toEqual([...accuracies].sort((a, b) => b - a));
    expect(accuracies[0]).toBeLessThanOrEqual(report.trainedAccuracy);
  });

  it('gradual pruning with fine-tuning reached 80% zeros losing at most half a point (the record measured on this fixture)', () => {
    const record = report.pruningFineTuned;
    expect(record).toBeDefined();
    expect(record?.denseAccuracy).toBeCloseTo(report.trainedAccuracy, 6);
    expect(record?.oneShotAccuracy).toBeCloseTo(report.pruning.find((p) => p.sparsity === record?.targetSparsity)?.accuracy ?? NaN, 6);
    expect(record?.measuredSparsity).toBeGreaterThan(0.7999);
    expect(record?.prunedAccuracy).toBeGreaterThanOrEqual(report.trainedAccuracy - 0.005);
  });

  it('writes reference statistics for drift next to each export, in the shape manifests accept', async () => {
    for (const e of [report.exports.onnx, report.exports.onnxInt8, report.exports.tfliteInt8]) {
      const stats = referenceStatsSchema.parse(JSON.parse(await readFile(e.referenceStatsPath ?? '', 'utf8')));
      expect(stats.samples).toBe(2000);
      expect(stats.input.mean).toBeGreaterThan(10); // raw bytes, before the 1/255 scaling
      expect(stats.confidence.edges.at(-1)).toBeLessThanOrEqual(1);
    }
  });
});
