import { describe, expect, it } from '@jest/globals';
import { computeReferenceStats, driftBin, heartbeatDriftSchema, populationStabilityIndex, referenceBins, referenceStatsSchema } from './drift.js';

/** A deterministic uniform sample in [lo, hi). */
const uniform = (n: number, lo: number, hi: number, seed = 7) => {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
};

describe('drift bins and PSI', () => {
  it('puts a value in the bin its edges bound (first and last bins open)', () => {
    expect([-5, 0, 0.5, 1, 2, 9].map((v) => driftBin([0, 1, 2], v))).toEqual([0, 1, 1, 2, 3, 3]);
  });

  it('scores a sample from the reference distribution near 0 and a shifted one far above 0.25', () => {
    const ref = referenceBins(uniform(5000, 0, 1), 10);
    const counts = (values: number[]) => {
      const c = new Float64Array(ref.edges.length + 1);
      for (const v of values) c[driftBin(ref.edges, v)]++;
      return c;
    };
    expect(populationStabilityIndex(ref.fractions, counts(uniform(2000, 0, 1, 99)))).toBeLessThan(0.05);
    expect(populationStabilityIndex(ref.fractions, counts(uniform(2000, 0.5, 1.5, 99)))).toBeGreaterThan(1);
  });

  it('drops duplicate quantile edges (a value that is often exactly 0)', () => {
    const bins = referenceBins([...Array.from({ length: 80 }, () => 0), ...uniform(20, 0.1, 1)], 10);
    expect(bins.edges.filter((e) => e === 0)).toHaveLength(1);
    expect(bins.fractions.reduce((a, f) => a + f, 0)).toBeCloseTo(1, 9);
  });
});

describe('reference statistics on the wire', () => {
  it('computes statistics the manifest schema accepts', () => {
    const inputs = Array.from({ length: 50 }, (_, i) => Float32Array.from(uniform(16, 0, 1, i + 1)));
    const stats = computeReferenceStats(inputs, uniform(50, 0.3, 1), 20);
    expect(referenceStatsSchema.parse(stats)).toEqual(stats);
    expect(stats.input.mean).toBeGreaterThan(0.4);
    expect(stats.input.mean).toBeLessThan(0.6);
  });

  it('refuses unbounded or inconsistent statistics', () => {
    const ok = { samples: 10, input: { mean: 0, std: 1, bins: { edges: [0], fractions: [0.5, 0.5] } }, confidence: { edges: [0.5], fractions: [0.5, 0.5] } };
    expect(referenceStatsSchema.safeParse(ok).success).toBe(true);
    expect(referenceStatsSchema.safeParse({ ...ok, confidence: { edges: [0.5, 0.4], fractions: [0.3, 0.3, 0.4] } }).success).toBe(false);
    expect(referenceStatsSchema.safeParse({ ...ok, confidence: { edges: [0.5], fractions: [0.5, 0.6] } }).success).toBe(false);
    expect(referenceStatsSchema.safeParse({ ...ok, confidence: { edges: Array.from({ length: 64 }, (_, i) => i), fractions: Array.from({ length: 65 }, () => 1 / 65) } }).success).toBe(false);
    expect(referenceStatsSchema.safeParse({ ...ok, extra: 1 }).success).toBe(false);
    expect(heartbeatDriftSchema.safeParse({ input: -1, confidence: 0, samples: 1 }).success).toBe(false);
    expect(heartbeatDriftSchema.safeParse({ input: 1e9, confidence: 0, samples: 1 }).success).toBe(false);
  });
});
