/**
 * The comparison of a candidate's output with the serving model's on the same input (shadow
 * evaluation). Pure. Outputs are read as probability distributions: an output that already is one
 * (non-negative, summing to 1 within 1e-3, what a softmax head gives) is taken as it is, anything else
 * (logits) goes through a softmax first, so the figures mean the same for every model.
 */

const SUM_TOLERANCE = 1e-3;

/** The output as a probability distribution (see above). */
export function asDistribution(output: ArrayLike<number>): Float64Array {
  const values = Float64Array.from(output as ArrayLike<number>);
  let sum = 0;
  let nonNegative = true;
  for (const v of values) {
    sum += v;
    if (v < 0) nonNegative = false;
  }
  if (nonNegative && Math.abs(sum - 1) <= SUM_TOLERANCE) return values.map((v) => v / sum);
  const max = Math.max(...values);
  const exp = values.map((v) => Math.exp(v - max));
  const total = exp.reduce((a, v) => a + v, 0);
  return exp.map((v) => v / total);
}

/** The index of the largest value (the first on ties). */
export function topClass(values: ArrayLike<number>): number {
  let top = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[top] as number)) top = i;
  return top;
}

/**
 * Jensen–Shannon divergence in bits: 0 for identical distributions, 1 for disjoint ones; symmetric and
 * finite even where one side gives a class zero probability (unlike Kullback–Leibler).
 */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i] as number;
    const b = q[i] as number;
    const m = (a + b) / 2;
    if (a > 0) sum += a * Math.log2(a / m);
    if (b > 0) sum += b * Math.log2(b / m);
  }
  return Math.min(1, Math.max(0, sum / 2));
}

/** Mean absolute difference of two equally long vectors. */
export function meanAbsDiff(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += Math.abs((p[i] as number) - (q[i] as number));
  return p.length === 0 ? 0 : sum / p.length;
}

/** The figures a shadow report carries (libs/protocol `shadowReportMessage`). */
export interface ShadowFigures {
  readonly samples: number;
  readonly agreed: number;
  readonly errors: number;
  readonly skipped: number;
  readonly meanDivergence: number;
  readonly meanAbsDiff: number;
  readonly activeLatencyMs: number;
  readonly candidateLatencyMs: number;
}

/** A timing below a microsecond is a clock's resolution, not a run: taken as one microsecond in ratios. */
const MIN_MS = 0.001;

/**
 * Running sums of one shadow run; `figures()` gives the means. The candidate's latency is the active
 * mean times the geometric mean of the per-sample ratios (candidate / active on the same input): a sample
 * where the thread lost its core for a few milliseconds shifts it by a few percent, where it would move a
 * mean of sub-millisecond runs by a third.
 */
export class ShadowTally {
  private samples = 0;
  private agreed = 0;
  private errors = 0;
  private skipped = 0;
  private divergence = 0;
  private absDiff = 0;
  private activeMs = 0;
  /** Sum over samples of ln(candidate ms / active ms). */
  private logRatio = 0;

  /** One pair of answers to the same input. A candidate output unlike the active one in length, or not finite, is an error. */
  add(active: ArrayLike<number>, candidate: ArrayLike<number>, activeMs: number, candidateMs: number): void {
    if (candidate.length !== active.length || candidate.length === 0 || !Array.prototype.every.call(candidate, Number.isFinite)) {
      this.errors++;
      return;
    }
    const p = asDistribution(active);
    const q = asDistribution(candidate);
    this.samples++;
    if (topClass(p) === topClass(q)) this.agreed++;
    this.divergence += jensenShannon(p, q);
    this.absDiff += meanAbsDiff(p, q);
    this.activeMs += activeMs;
    this.logRatio += Math.log(Math.max(candidateMs, MIN_MS) / Math.max(activeMs, MIN_MS));
  }

  /** The candidate threw. */
  error(): void {
    this.errors++;
  }

  /** A sampled request found a shadow run still in flight, or a run timed out while its thread waited for a core. */
  skip(): void {
    this.skipped++;
  }

  figures(): ShadowFigures {
    const mean = (sum: number) => (this.samples === 0 ? 0 : asReal(sum / this.samples));
    return {
      samples: this.samples,
      agreed: this.agreed,
      errors: this.errors,
      skipped: this.skipped,
      meanDivergence: Math.min(1, mean(this.divergence)),
      meanAbsDiff: Math.min(1, mean(this.absDiff)),
      activeLatencyMs: mean(this.activeMs),
      candidateLatencyMs: mean(this.activeMs) * Math.exp(mean(this.logRatio)),
    };
  }
}

/** A value a PostgreSQL `real` column (and so the report's schema) takes: magnitudes below float32's become 0. */
function asReal(value: number): number {
  return Math.fround(value) === 0 ? 0 : value;
}
