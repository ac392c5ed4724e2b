import { z } from 'zod';
import { MAX_WINDOW_COUNT } from './bounds.js';

/**
 * Top-class confidence in 20 buckets of equal width: bucket i holds confidences in (i/20, (i+1)/20],
 * bucket 0 also 0 (and anything below, clamped), bucket 19 also anything above 1. Agents count their
 * inferences into it for the heartbeat; the control plane buckets stored results the same way, so both
 * merge bucket by bucket.
 */
export const CONFIDENCE_HISTOGRAM_LAYOUT = 'linear20' as const;
export const CONFIDENCE_BUCKET_COUNT = 20;
export const CONFIDENCE_BOUNDS: readonly number[] = Array.from({ length: CONFIDENCE_BUCKET_COUNT }, (_, i) => (i + 1) / CONFIDENCE_BUCKET_COUNT);

/** The bucket of a confidence, ⌈c·20⌉ − 1 clamped to the layout (NaN falls in bucket 0). */
export function confidenceBucket(confidence: number): number {
  const bucket = Math.ceil(confidence * CONFIDENCE_BUCKET_COUNT) - 1;
  return Number.isNaN(bucket) ? 0 : Math.min(CONFIDENCE_BUCKET_COUNT - 1, Math.max(0, bucket));
}

/** What the sum adds for one confidence: the value clamped to [0, 1], so the mean stays a confidence. */
export const clampConfidence = (confidence: number): number => (confidence > 0 ? Math.min(confidence, 1) : 0);

/**
 * The heartbeat's `confidenceHistogram`: the successful inferences' top-class confidences of the model
 * the heartbeat names, as sparse [bucket, count] pairs strictly increasing by bucket, and their `sum`
 * (each clamped to [0, 1]), so the mean is exact rather than read from bucket bounds. The sum cannot
 * exceed the count (each confidence is at most 1): a sum beyond it is refused, not stored.
 */
export const confidenceHistogramSchema = z
  .strictObject({
    layout: z.literal(CONFIDENCE_HISTOGRAM_LAYOUT),
    counts: z
      .array(z.tuple([z.number().int().min(0).max(CONFIDENCE_BUCKET_COUNT - 1), z.number().int().min(1).max(MAX_WINDOW_COUNT)]))
      .min(1)
      .max(CONFIDENCE_BUCKET_COUNT)
      .refine((pairs) => pairs.every(([bucket], i) => i === 0 || bucket > (pairs[i - 1] as [number, number])[0]), 'buckets must be strictly increasing'),
    sum: z.number().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .refine((h) => h.sum <= h.counts.reduce((total, [, n]) => total + n, 0) * (1 + 1e-9), { message: 'sum exceeds the count (confidences are at most 1)', path: ['sum'] });
export type ConfidenceHistogram = z.infer<typeof confidenceHistogramSchema>;

/** The number of confidences a histogram holds. */
export const confidenceCount = (h: ConfidenceHistogram): number => h.counts.reduce((total, [, n]) => total + n, 0);
