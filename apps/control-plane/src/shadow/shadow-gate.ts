/**
 * The shadow gate (pure): judges a wave's shadow figures — its nodes' latest reports summed — against
 * the rollout's `strategy.shadow`. Errors fail at once; everything else waits for `minSamples` samples
 * and `durationSeconds` of shadowing, then passes or fails on agreement, divergence and latency.
 */

/** A wave's figures from its nodes' latest reports: counters summed, rates a mean over nodes (each node counts once). */
export interface ShadowWaveFigures {
  /** Nodes of the wave that reported. */
  readonly nodes: number;
  readonly samples: number;
  /** Mean over nodes of agreed / samples: the share of sampled requests where the candidate's top class is the serving model's. */
  readonly agreement: number | null;
  readonly meanDivergence: number | null;
  readonly meanAbsDiff: number | null;
  /** Mean over nodes of candidate latency / serving latency on the same samples. */
  readonly latencyRatio: number | null;
  readonly errors: number;
  readonly skipped: number;
  /** When the earliest of the wave's current shadow runs started, never before that node's dispatch (a server-side time). */
  readonly since: Date | null;
}

export interface ShadowGateSettings {
  readonly minSamples: number;
  readonly minAgreement: number;
  readonly maxDivergence?: number | undefined;
  readonly maxLatencyRatio?: number | undefined;
  readonly maxErrors: number;
  readonly durationSeconds: number;
}

export type ShadowVerdict =
  | { readonly kind: 'pass'; readonly figures: ShadowWaveFigures }
  | { readonly kind: 'wait'; readonly why: string; readonly figures: ShadowWaveFigures }
  | { readonly kind: 'fail'; readonly reason: string; readonly figures: ShadowWaveFigures };

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function judgeShadow(settings: ShadowGateSettings, figures: ShadowWaveFigures, now: Date): ShadowVerdict {
  if (figures.errors > settings.maxErrors) {
    return { kind: 'fail', reason: `shadow gate: ${figures.errors} candidate errors (max ${settings.maxErrors})`, figures };
  }
  if (figures.samples < settings.minSamples) {
    return { kind: 'wait', why: `need ${settings.minSamples} shadow samples (have ${figures.samples} from ${figures.nodes} nodes)`, figures };
  }
  const shadowedSeconds = figures.since ? (now.getTime() - figures.since.getTime()) / 1000 : 0;
  if (shadowedSeconds < settings.durationSeconds) {
    return { kind: 'wait', why: `shadowing for ${Math.floor(shadowedSeconds)} of ${settings.durationSeconds} s`, figures };
  }
  const agreement = figures.agreement ?? 0;
  if (agreement < settings.minAgreement) {
    return { kind: 'fail', reason: `shadow gate: the candidate agrees with the serving model on ${pct(agreement)} of ${figures.samples} samples (min ${pct(settings.minAgreement)})`, figures };
  }
  if (settings.maxDivergence !== undefined && (figures.meanDivergence ?? 0) > settings.maxDivergence) {
    return { kind: 'fail', reason: `shadow gate: mean Jensen–Shannon divergence ${(figures.meanDivergence ?? 0).toFixed(4)} (max ${settings.maxDivergence})`, figures };
  }
  if (settings.maxLatencyRatio !== undefined && figures.latencyRatio !== null && figures.latencyRatio > settings.maxLatencyRatio) {
    return { kind: 'fail', reason: `shadow gate: the candidate takes ${figures.latencyRatio.toFixed(2)}× the serving model's time (max ${settings.maxLatencyRatio}×)`, figures };
  }
  return { kind: 'pass', figures };
}
