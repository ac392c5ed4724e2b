import type { LatencyPercentiles } from '#protocol';
import type { HealthGates } from './strategy.js';

/** What one side (canary: nodes on the new version; control: targets still on the old one) did in the window. */
export interface SideStats {
  readonly nodes: number;
  readonly inferences: number;
  readonly errors: number;
  /**
   * The side's p99: from the merged latency histograms of its heartbeats (exact to the bucket), or, when
   * none carried one (older agents), the inference-weighted mean of their p99s; null without either.
   */
  readonly latencyP99Ms: number | null;
  /** Percentiles of the merged histograms; null when no heartbeat carried one. */
  readonly latencyMs: LatencyPercentiles | null;
  /** Mean top-class confidence over `results`, or null without any. */
  readonly meanConfidence: number | null;
  /**
   * The confidences the mean is over: those heartbeats reported (every successful inference) plus the
   * stored results of nodes that report none.
   */
  readonly results: number;
}

export type GateVerdict = { readonly kind: 'pass' } | { readonly kind: 'wait'; readonly why: string } | { readonly kind: 'fail'; readonly reason: string };

const ratio = (a: number, b: number) => (b > 0 ? a / b : a > 0 ? Infinity : 1);

/**
 * Judges the model-health gates: each configured gate compares canary with control. A gate with too few
 * samples on either side waits rather than passing; with no control group left (everything moved)
 * there is nothing to compare and the gates pass.
 */
export function judgeGates(gates: HealthGates, canary: SideStats, control: SideStats): GateVerdict {
  if (control.nodes === 0) return { kind: 'pass' };
  if (canary.inferences < gates.minSamples || control.inferences < gates.minSamples) {
    return { kind: 'wait', why: `need ${gates.minSamples} inferences per side (canary ${canary.inferences}, control ${control.inferences})` };
  }
  if (gates.maxLatencyP99Ratio !== undefined && canary.latencyP99Ms !== null && control.latencyP99Ms !== null) {
    const r = ratio(canary.latencyP99Ms, control.latencyP99Ms);
    if (r > gates.maxLatencyP99Ratio) {
      return { kind: 'fail', reason: `latency gate: canary p99 ${canary.latencyP99Ms.toFixed(2)} ms is ${r.toFixed(2)}× control ${control.latencyP99Ms.toFixed(2)} ms (max ${gates.maxLatencyP99Ratio}×)` };
    }
  }
  if (gates.maxErrorRateIncrease !== undefined) {
    const [c, k] = [canary.errors / canary.inferences, control.errors / control.inferences];
    if (c - k > gates.maxErrorRateIncrease) {
      return { kind: 'fail', reason: `error-rate gate: canary ${(c * 100).toFixed(2)}% vs control ${(k * 100).toFixed(2)}% (max increase ${(gates.maxErrorRateIncrease * 100).toFixed(2)} points)` };
    }
  }
  if (gates.maxConfidenceDrop !== undefined) {
    if (canary.results < gates.minSamples || control.results < gates.minSamples) {
      return { kind: 'wait', why: `need ${gates.minSamples} confidences per side for the confidence gate (canary ${canary.results}, control ${control.results})` };
    }
    const drop = (control.meanConfidence ?? 0) - (canary.meanConfidence ?? 0);
    if (drop > gates.maxConfidenceDrop) {
      return { kind: 'fail', reason: `confidence gate: canary mean ${(canary.meanConfidence ?? 0).toFixed(3)} vs control ${(control.meanConfidence ?? 0).toFixed(3)} (max drop ${gates.maxConfidenceDrop})` };
    }
  }
  return { kind: 'pass' };
}
