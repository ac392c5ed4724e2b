import {
  bucketUpperBound,
  denseHistogram,
  histogramQuantile,
  LATENCY_BOUNDS_MS,
  LATENCY_BUCKET_COUNT,
  latencyBucket,
  latencyHistogramSchema,
  mergeHistograms,
  sparseHistogram,
} from './latency-histogram.js';

/** The nearest-rank quantile of raw samples, as the bucket bound that holds it. */
function referenceQuantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return bucketUpperBound(latencyBucket(sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number));
}

function histogramOf(samples: readonly number[]): number[] {
  const counts = new Array<number>(LATENCY_BUCKET_COUNT).fill(0);
  for (const s of samples) counts[latencyBucket(s)]++;
  return counts;
}

describe('latency histogram', () => {
  it('spans 0.05 ms to 60 s in log-spaced buckets', () => {
    expect(LATENCY_BOUNDS_MS[0]).toBe(0.05);
    expect(LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]).toBeGreaterThan(60_000);
    for (let i = 1; i < LATENCY_BOUNDS_MS.length; i++) expect((LATENCY_BOUNDS_MS[i] as number) / (LATENCY_BOUNDS_MS[i - 1] as number)).toBeCloseTo(2 ** 0.25, 9);
  });

  it('puts every latency in the bucket whose bounds hold it, bounds included', () => {
    for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) {
      const upper = LATENCY_BOUNDS_MS[i] as number;
      expect(latencyBucket(upper)).toBe(i);
      expect(latencyBucket(upper * 1.000001)).toBe(i + 1);
      if (i > 0) expect(latencyBucket(upper * 0.999999)).toBe(i);
    }
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(-3)).toBe(0);
    expect(latencyBucket(Number.NaN)).toBe(0);
    expect(latencyBucket(1e9)).toBe(LATENCY_BUCKET_COUNT - 1);
  });

  it('gives percentiles of merged histograms equal to those of the pooled samples, to the bucket', () => {
    let state = 7;
    const random = () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const fast = Array.from({ length: 5000 }, () => 1 + random() * 4);
    const slow = Array.from({ length: 300 }, () => 200 + random() * 800);
    const merged = mergeHistograms(histogramOf(fast), histogramOf(slow));
    for (const q of [0.5, 0.9, 0.99, 1]) expect(histogramQuantile(merged, q)).toBe(referenceQuantile([...fast, ...slow], q));
    // The average of the two p99s is not the pooled p99.
    const averaged = ((histogramQuantile(histogramOf(fast), 0.99) as number) + (histogramQuantile(histogramOf(slow), 0.99) as number)) / 2;
    expect(histogramQuantile(merged, 0.99)).not.toBeCloseTo(averaged, 0);
  });

  it('is null when empty and round-trips through the sparse wire form', () => {
    expect(histogramQuantile(new Array(LATENCY_BUCKET_COUNT).fill(0), 0.5)).toBeNull();
    const dense = histogramOf([0.01, 3, 3, 70_000]);
    expect(sparseHistogram(dense)).toEqual([[0, 1], [latencyBucket(3), 2], [LATENCY_BUCKET_COUNT - 1, 1]]);
    expect(denseHistogram(sparseHistogram(dense))).toEqual(dense);
  });

  it('refuses another layout, out-of-range or unordered buckets and zero counts', () => {
    expect(latencyHistogramSchema.safeParse({ layout: 'log2q4-0.05ms', counts: [[0, 1], [5, 2]] }).success).toBe(true);
    for (const bad of [
      { layout: 'linear', counts: [] },
      { layout: 'log2q4-0.05ms', counts: [[LATENCY_BUCKET_COUNT, 1]] },
      { layout: 'log2q4-0.05ms', counts: [[5, 1], [5, 1]] },
      { layout: 'log2q4-0.05ms', counts: [[5, 1], [2, 1]] },
      { layout: 'log2q4-0.05ms', counts: [[5, 0]] },
      { layout: 'log2q4-0.05ms', counts: [[5, 1.5]] },
    ]) expect(latencyHistogramSchema.safeParse(bad).success).toBe(false);
  });
});
