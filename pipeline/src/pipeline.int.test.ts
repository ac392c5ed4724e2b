import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OfflineReport, runOfflinePipeline } from './pipeline.js';

/** The seed pipeline's offline half on the committed trained model, against the bars. */
describe('seed pipeline (offline)', () => {
  let dir: string;
  let report: OfflineReport;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-pipeline-'));
    report = await runOfflinePipeline(dir, () => undefined);
  }, 300_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('the trained CNN scores at least 98% on the 10,000 MNIST test images', () => {
    expect(report.testImages).toBe(10_000);
    expect(report.trainedAccuracy).toBeGreaterThanOrEqual(0.98);
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

  it('pruning more weights never helps: accuracy falls as sparsity rises', () => {
    const accuracies = report.pruning.map((p) => p.accuracy);
    expect(accuracies).toEqual([...accuracies].sort((a, b) => b - a));
    expect(accuracies[0]).toBeLessThanOrEqual(report.trainedAccuracy);
  });
});
