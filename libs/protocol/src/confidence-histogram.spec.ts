import { CONFIDENCE_BUCKET_COUNT, confidenceBucket, confidenceHistogramSchema } from './confidence-histogram.js';

describe('confidence histogram', () => {
  it('buckets confidences in twentieths, clamping what is not a probability', () => {
    expect([0, 0.05, 0.0500001, 0.5, 0.975, 1, 1.5, -0.2, Number.NaN].map(confidenceBucket)).toEqual([0, 0, 1, 9, 19, 19, 19, 0, 0]);
    expect(CONFIDENCE_BUCKET_COUNT).toBe(20);
  });

  it('accepts a sparse, increasing histogram with a sum no larger than its count, and refuses anything else', () => {
    expect(confidenceHistogramSchema.safeParse({ layout: 'linear20', counts: [[3, 2], [19, 5]], sum: 6.1 }).success).toBe(true);
    for (const bad of [
      { layout: 'linear10', counts: [[3, 2]], sum: 1 },
      { layout: 'linear20', counts: [], sum: 0 },
      { layout: 'linear20', counts: [[20, 1]], sum: 1 },
      { layout: 'linear20', counts: [[5, 1], [5, 1]], sum: 1 },
      { layout: 'linear20', counts: [[6, 1], [5, 1]], sum: 1 },
      { layout: 'linear20', counts: [[5, 0]], sum: 0 },
      { layout: 'linear20', counts: [[5, 2]], sum: 2.5 },
      { layout: 'linear20', counts: [[5, 2]], sum: -1 },
      { layout: 'linear20', counts: [[5, 2]] },
      { layout: 'linear20', counts: Array.from({ length: 21 }, (_, i) => [i, 1]), sum: 1 },
      { layout: 'linear20', counts: [[5, 2]], sum: 1, extra: true },
    ]) expect(confidenceHistogramSchema.safeParse(bad).success).toBe(false);
  });
});
