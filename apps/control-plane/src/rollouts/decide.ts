import type { ShadowVerdict } from '../shadow/shadow-gate.js';
import type { GateVerdict } from './health-gate.js';
import type { RolloutStrategy } from './strategy.js';

/** Node counts by outcome; `open` = not finished (pending, dispatched, waiting to retry). */
export interface Counts {
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly open: number;
}

/** Everything one tick of a running rollout decides on, read under the rollout's lock. */
export interface TickView {
  readonly strategy: RolloutStrategy;
  readonly now: Date;
  readonly currentWave: number;
  readonly waveCount: number;
  readonly bakeUntil: Date | null;
  readonly overall: Counts;
  readonly wave: Counts;
  readonly gate: GateVerdict | null;
  /** The current wave's shadow evaluation (strategy.shadow); absent or null without one. */
  readonly shadow?: ShadowVerdict | null;
  readonly dispatchedLastMinute: number;
}

export type Step =
  /** `byNodes`: the halt is caused by node failures (a threshold), so its reason can name them. */
  | { readonly kind: 'halt'; readonly reason: string; readonly byNodes: boolean }
  | { readonly kind: 'complete' }
  | { readonly kind: 'superseded' }
  | { readonly kind: 'advance'; readonly note?: string }
  | { readonly kind: 'bake'; readonly until: Date }
  | { readonly kind: 'dispatch'; readonly budget: number }
  | { readonly kind: 'wait' };

/** Whether the failure threshold is crossed: count or percentage of finished nodes, once enough finished. */
export function failureThresholdCrossed(threshold: RolloutStrategy['failureThreshold'], counts: Counts): string | null {
  if (!threshold) return null;
  const executed = counts.succeeded + counts.failed;
  if (executed < threshold.minExecuted || counts.failed === 0) return null;
  if (threshold.count !== undefined && counts.failed >= threshold.count) return `failure threshold: ${counts.failed} nodes failed (max ${threshold.count - 1})`;
  const percent = (counts.failed / executed) * 100;
  if (threshold.percent !== undefined && percent >= threshold.percent) {
    return `failure threshold: ${counts.failed} of ${executed} finished nodes failed (${percent.toFixed(1)}% >= ${threshold.percent}%)`;
  }
  return null;
}

/**
 * How many nodes may be dispatched now under the rate limit. A maintenance window does not hold dispatch
 * back: nodes download and self-test at once and activate only inside the window (the desired state says so).
 */
export function dispatchBudget(view: Pick<TickView, 'strategy' | 'dispatchedLastMinute'>): number {
  const max = view.strategy.maxNodesPerMinute;
  return max === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, max - view.dispatchedLastMinute);
}

/**
 * The rollout's rules, as one pure function: safety first (failure threshold, then health gates halt at
 * any time), then the current wave (dispatch what is open), then the gate between waves (success
 * threshold, bake time), then completion. A continuous rollout stays running after its last wave.
 */
export function decide(view: TickView): Step {
  const crossed = failureThresholdCrossed(view.strategy.failureThreshold, view.overall);
  if (crossed) return { kind: 'halt', reason: crossed, byNodes: true };
  if (view.gate?.kind === 'fail') return { kind: 'halt', reason: view.gate.reason, byNodes: false };
  if (view.shadow?.kind === 'fail') return { kind: 'halt', reason: view.shadow.reason, byNodes: false };
  // Every node was taken over by newer rollouts: nothing is left to roll out.
  if (view.overall.total === 0) return { kind: 'superseded' };

  if (view.wave.open > 0) return { kind: 'dispatch', budget: dispatchBudget(view) };

  const succeededPercent = view.wave.total === 0 ? 100 : (view.wave.succeeded / view.wave.total) * 100;
  if (succeededPercent < view.strategy.successThreshold) {
    return { kind: 'halt', reason: `wave ${view.currentWave + 1}: ${succeededPercent.toFixed(1)}% succeeded, below the ${view.strategy.successThreshold}% threshold`, byNodes: true };
  }
  const last = view.currentWave >= view.waveCount - 1;
  if (last) return view.strategy.continuous ? { kind: 'wait' } : { kind: 'complete' };

  if (view.bakeUntil === null) {
    if (view.strategy.bakeSeconds > 0) return { kind: 'bake', until: new Date(view.now.getTime() + view.strategy.bakeSeconds * 1000) };
  } else if (view.now < view.bakeUntil) {
    return { kind: 'wait' };
  }
  // Bake over (or none): a gate still waiting for samples does not hold the rollout forever; say so.
  return view.gate?.kind === 'wait' ? { kind: 'advance', note: `health gates inconclusive: ${view.gate.why}` } : { kind: 'advance' };
}
