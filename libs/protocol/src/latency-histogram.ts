import { z } from 'zod';
import { MAX_WINDOW_COUNT } from './bounds.js';

/**
 * The latency histogram every agent reports and the control plane merges: fixed, log-spaced buckets
 * shared by both ends, so histograms from any number of nodes add bucket by bucket and a fleet-wide
 * percentile is exact to the bucket (averaging per-node p99s is not a percentile of anything).
 *
 * Bucket i (0 < i < LATENCY_BUCKET_COUNT - 1) holds latencies in (bound(i-1), bound(i)]; bucket 0 holds
 * (0, LATENCY_MIN_MS] and the last bucket everything above LATENCY_MAX_MS. Four buckets per doubling
 * (each bound is 2^¼ ≈ 1.19× the previous) from 0.05 ms to 62.9 s: a percentile read as its bucket's
 * upper bound is at most 19% above the true value.
 */
export const LATENCY_HISTOGRAM_LAYOUT = 'log2q4-0.05ms' as const;
export const LATENCY_MIN_MS = 0.05;
const STEPS_PER_DOUBLING = 4;
/** Finite upper bounds, in ms: LATENCY_MIN_MS × 2^(i/4) for i = 0..80 (0.05 ms .. 52.4 s), then one more. */
export const LATENCY_BOUNDS_MS: readonly number[] = Array.from({ length: 82 }, (_, i) => LATENCY_MIN_MS * 2 ** (i / STEPS_PER_DOUBLING));
export const LATENCY_MAX_MS = LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1] as number;
/** Finite buckets plus one overflow bucket. */
export const LATENCY_BUCKET_COUNT = LATENCY_BOUNDS_MS.length + 1;

/**
 * The bucket of a latency: one logarithm and at most one correction for floating-point rounding at a
 * bound, no allocation. This is all the agent's request path pays to record a latency.
 */
export function latencyBucket(ms: number): number {
  if (!(ms > LATENCY_MIN_MS)) return 0; // also NaN and negatives: a clock that went backwards
  if (ms > LATENCY_MAX_MS) return LATENCY_BUCKET_COUNT - 1;
  let i = Math.ceil(Math.log2(ms / LATENCY_MIN_MS) * STEPS_PER_DOUBLING);
  if (i > 0 && ms <= (LATENCY_BOUNDS_MS[i - 1] as number)) i--;
  else if (ms > (LATENCY_BOUNDS_MS[i] as number)) i++;
  return i;
}

/** The upper bound of a bucket in ms (Infinity for the overflow bucket). */
export function bucketUpperBound(bucket: number): number {
  return LATENCY_BOUNDS_MS[bucket] ?? Infinity;
}

/**
 * The q-quantile (0 < q ≤ 1) of a dense histogram, as the upper bound of the bucket holding the
 * ⌈q·n⌉-th smallest sample (the nearest-rank definition); null when it is empty. `bounds` defaults to the
 * latency layout; the confidence histogram passes its own.
 */
export function histogramQuantile(counts: readonly number[], q: number, bounds: readonly number[] = LATENCY_BOUNDS_MS): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i] ?? 0;
    if (seen >= rank) return bounds[i] ?? Infinity;
  }
  return bounds[counts.length - 1] ?? Infinity;
}

/** Adds `b` into a copy of `a`, bucket by bucket (histograms of one layout merge exactly). */
export function mergeHistograms(a: readonly number[], b: readonly number[]): number[] {
  const out = Array.from({ length: Math.max(a.length, b.length) }, (_, i) => (a[i] ?? 0) + (b[i] ?? 0));
  return out;
}

/** Sparse [bucket, count] pairs (what goes on the wire) → dense counts of LATENCY_BUCKET_COUNT. */
export function denseHistogram(pairs: readonly (readonly [number, number])[]): number[] {
  const out = new Array<number>(LATENCY_BUCKET_COUNT).fill(0);
  for (const [bucket, n] of pairs) out[bucket] = (out[bucket] ?? 0) + n;
  return out;
}

/** Dense counts → sparse pairs of the non-empty buckets, in bucket order. */
export function sparseHistogram(counts: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  counts.forEach((n, i) => {
    if (n > 0) out.push([i, n]);
  });
  return out;
}

/**
 * The heartbeat's `latencyHistogram`: the layout named (a node on another layout is refused, not
 * misread) and the non-empty buckets as [bucket, count] pairs, strictly increasing by bucket.
 */
export const latencyHistogramSchema = z.strictObject({
  layout: z.literal(LATENCY_HISTOGRAM_LAYOUT),
  counts: z
    .array(z.tuple([z.number().int().min(0).max(LATENCY_BUCKET_COUNT - 1), z.number().int().min(1).max(MAX_WINDOW_COUNT)]))
    .max(LATENCY_BUCKET_COUNT)
    .refine((pairs) => pairs.every(([bucket], i) => i === 0 || bucket > (pairs[i - 1] as [number, number])[0]), 'buckets must be strictly increasing'),
});
export type LatencyHistogram = z.infer<typeof latencyHistogramSchema>;

export interface LatencyPercentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/**
 * p50/p90/p99 of a dense latency histogram, each the upper bound of its bucket; a percentile in the
 * overflow bucket reads as LATENCY_MAX_MS (at least that much: JSON has no Infinity). Null when empty.
 */
export function latencyPercentiles(counts: readonly number[]): LatencyPercentiles | null {
  const at = (q: number) => {
    const v = histogramQuantile(counts, q);
    return v === null ? null : Math.min(v, LATENCY_MAX_MS);
  };
  const [p50, p90, p99] = [at(0.5), at(0.9), at(0.99)];
  return p50 === null || p90 === null || p99 === null ? null : { p50, p90, p99 };
}
