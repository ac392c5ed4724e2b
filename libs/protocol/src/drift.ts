import { z } from 'zod';
import { int32, real } from './bounds.js';

/**
 * Drift: how far a node's live inputs and top-class confidences have moved from what the model saw at
 * training time. The manifest carries reference statistics (`referenceStats`, computed at export on
 * held-out data); the agent bins its recent traffic into the same bins and reports the Population
 * Stability Index of each distribution in heartbeats (`drift`). Both sides use the functions here, so
 * the bins and the score are the same on the exporter, the node and in tests.
 */

/** Most interior bin edges a distribution may declare (bins = edges + 1). */
export const MAX_DRIFT_EDGES = 63;
/** Fractions below this are floored before the logarithm: an empty bin is "rare", not "impossible". */
export const PSI_FLOOR = 1e-4;

const finite = z.number().min(-1e12).max(1e12);

/**
 * One distribution as fixed bins: `edges` (strictly increasing; bin i holds edges[i-1] ≤ v < edges[i],
 * the first and last bins are open) and the reference fraction of values in each of the edges+1 bins.
 */
export const binnedDistributionSchema = z
  .strictObject({
    edges: z.array(finite).min(1).max(MAX_DRIFT_EDGES),
    fractions: z.array(z.number().min(0).max(1)).min(2).max(MAX_DRIFT_EDGES + 1),
  })
  .refine((d) => d.edges.every((e, i) => i === 0 || e > (d.edges[i - 1] as number)), { message: 'edges must increase strictly', path: ['edges'] })
  .refine((d) => d.fractions.length === d.edges.length + 1, { message: 'fractions must have one more entry than edges', path: ['fractions'] })
  .refine((d) => Math.abs(d.fractions.reduce((a, f) => a + f, 0) - 1) < 1e-3, { message: 'fractions must sum to 1', path: ['fractions'] });

/**
 * Reference statistics of a model version, signed into its manifest: its inputs as clients send them
 * (before preprocessing; every value of every input pooled, with their mean and standard deviation) and
 * its top-class confidence on held-out data. Optional: a version without them reports no drift.
 */
export const referenceStatsSchema = z.strictObject({
  /** Held-out inputs the statistics were computed on. */
  samples: z.number().int().min(1).max(1e9),
  input: z.strictObject({ mean: finite, std: z.number().min(0).max(1e12), bins: binnedDistributionSchema }),
  confidence: binnedDistributionSchema,
});

/** A heartbeat's drift scores over the node's recent window (`real` columns, `integer` samples). */
export const heartbeatDriftSchema = z.strictObject({
  input: real(0, 1000),
  confidence: real(0, 1000),
  /** Inferences in the window the scores cover. */
  samples: int32(1),
});

export type BinnedDistribution = z.infer<typeof binnedDistributionSchema>;
export type ReferenceStats = z.infer<typeof referenceStatsSchema>;
export type HeartbeatDrift = z.infer<typeof heartbeatDriftSchema>;

/** The bin `value` falls in (binary search over the edges); NaN goes to the last bin. */
export function driftBin(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value >= (edges[mid] as number) || Number.isNaN(value)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * How many live values a PSI over `bins` bins needs before it means anything. With no drift at all, n
 * values drawn from the reference distribution give n·PSI ≈ Σ n(p−q)²/q, Pearson's χ² with bins − 1
 * degrees of freedom: E[PSI] ≈ (bins − 1)/n, standard deviation ≈ √(2(bins − 1))/n. Over 20 bins that is
 * 0.38 expected at n = 50 (every window "drifts" at the usual 0.25 alarm), 0.19 ± 0.06 at 100 (a steady
 * node read 0.278), 0.095 ± 0.031 at 200 (0.25 is five deviations away). Ten values per degree of freedom
 * hold the expected noise at 0.1; `drift-noise.spec.ts` simulates the false-alarm rate.
 */
export const DRIFT_SAMPLES_PER_DEGREE = 10;

/** The fewest values a drift score over `bins` bins is computed from (see DRIFT_SAMPLES_PER_DEGREE). */
export function driftMinSamples(bins: number): number {
  return DRIFT_SAMPLES_PER_DEGREE * Math.max(1, bins - 1);
}

/** The PSI expected from sampling noise alone: n values of the reference distribution over `bins` bins. */
export function expectedNullPsi(bins: number, n: number): number {
  return (bins - 1) / n;
}

/** PSI = Σ (observed − expected) · ln(observed / expected), fractions floored at PSI_FLOOR; 0 without observations. */
export function populationStabilityIndex(expected: readonly number[], observedCounts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < observedCounts.length; i++) total += observedCounts[i] as number;
  if (total === 0) return 0;
  let psi = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i] as number, PSI_FLOOR);
    const o = Math.max(((observedCounts[i] as number) ?? 0) / total, PSI_FLOOR);
    psi += (o - e) * Math.log(o / e);
  }
  return psi;
}

/**
 * Reference bins for a sample of values: edges at the quantiles (k/bins), duplicates dropped (a feature
 * that is often exactly 0 gives one edge there, not many), and the fraction of the sample in each bin.
 */
export function referenceBins(values: ArrayLike<number>, bins: number): BinnedDistribution {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) throw new RangeError('no values to bin');
  // The first quantile edge is always taken, so there is at least one edge (two bins).
  const edges: number[] = [];
  for (let k = 1; k < Math.min(bins, MAX_DRIFT_EDGES + 1); k++) {
    const edge = sorted[Math.min(sorted.length - 1, Math.floor((k * sorted.length) / bins))] as number;
    if (edges.length === 0 || edge > (edges[edges.length - 1] as number)) edges.push(edge);
  }
  const counts = new Float64Array(edges.length + 1);
  for (const v of sorted) counts[driftBin(edges, v)]++;
  return { edges, fractions: Array.from(counts, (c) => c / sorted.length) };
}

/**
 * Reference statistics from held-out inputs (as clients send them) and the model's top-class
 * confidence on each: what an exporter signs into the manifest. `bins` per distribution (2–64).
 */
export function computeReferenceStats(inputs: readonly ArrayLike<number>[], confidences: ArrayLike<number>, bins = 20): ReferenceStats {
  if (bins < 2 || bins > MAX_DRIFT_EDGES + 1) throw new RangeError(`bins must be 2–${MAX_DRIFT_EDGES + 1}`);
  let n = 0;
  let sum = 0;
  let squares = 0;
  for (const input of inputs) {
    for (let i = 0; i < input.length; i++) {
      const v = input[i] as number;
      n++;
      sum += v;
      squares += v * v;
    }
  }
  const pooled = new Float64Array(n);
  let at = 0;
  for (const input of inputs) for (let i = 0; i < input.length; i++) pooled[at++] = input[i] as number;
  const mean = n === 0 ? 0 : sum / n;
  return {
    samples: inputs.length,
    input: { mean, std: Math.sqrt(Math.max(0, squares / Math.max(1, n) - mean * mean)), bins: referenceBins(pooled, bins) },
    confidence: referenceBins(confidences, bins),
  };
}
