import type { GateVerdict } from './health-gate.js';
import type { HealthGates } from './strategy.js';

/** Labelled results (ground truth joined at POST /v1/feedback) of one side in the gate's window. */
export interface AccuracySide {
  readonly labelled: number;
  readonly correct: number;
}

/** The canary nodes' drift (their latest heartbeat score in the window); `nodes` = canary nodes that reported one. */
export interface CanaryDrift {
  readonly nodes: number;
  /** Mean over those nodes of max(input PSI, confidence PSI); null when none reported. */
  readonly meanScore: number | null;
}

export const DEFAULT_MIN_LABELLED_SAMPLES = 20;

/**
 * The gates fed by signals other than heartbeat counters: accuracy (canary vs control, from ground
 * truth) and drift (canary vs the training reference). Kept apart from `judgeGates` so each stays a
 * small pure rule; `combineVerdicts` joins them. Like the other gates, too few samples means wait,
 * and with no control group left the accuracy gate has nothing to compare and passes.
 */
export function judgeAccuracy(gates: HealthGates, canary: AccuracySide, control: AccuracySide, controlNodes: number): GateVerdict {
  if (gates.maxAccuracyDrop === undefined || controlNodes === 0) return { kind: 'pass' };
  const min = gates.minLabelledSamples ?? DEFAULT_MIN_LABELLED_SAMPLES;
  if (canary.labelled < min || control.labelled < min) {
    return { kind: 'wait', why: `need ${min} labelled results per side for the accuracy gate (canary ${canary.labelled}, control ${control.labelled})` };
  }
  const [a, k] = [canary.correct / canary.labelled, control.correct / control.labelled];
  if (k - a > gates.maxAccuracyDrop) {
    return { kind: 'fail', reason: `accuracy gate: canary ${(a * 100).toFixed(1)}% vs control ${(k * 100).toFixed(1)}% on labelled results (max drop ${(gates.maxAccuracyDrop * 100).toFixed(1)} points)` };
  }
  return { kind: 'pass' };
}

/** Drift is judged against the training reference, not against control: the control group serves a model with another reference. */
export function judgeDrift(gates: HealthGates, drift: CanaryDrift): GateVerdict {
  if (gates.maxDrift === undefined) return { kind: 'pass' };
  if (drift.meanScore === null) return { kind: 'wait', why: 'no canary node has reported a drift score yet' };
  if (drift.meanScore > gates.maxDrift) {
    return { kind: 'fail', reason: `drift gate: canary mean drift ${drift.meanScore.toFixed(3)} over ${drift.nodes} node(s) (max ${gates.maxDrift})` };
  }
  return { kind: 'pass' };
}

/** The first failure wins; else the first wait; else pass. */
export function combineVerdicts(...verdicts: readonly GateVerdict[]): GateVerdict {
  return verdicts.find((v) => v.kind === 'fail') ?? verdicts.find((v) => v.kind === 'wait') ?? { kind: 'pass' };
}

/** Whether any signal gate is configured (so the engine reads their inputs only when needed). */
export function hasSignalGates(gates: HealthGates): boolean {
  return gates.maxAccuracyDrop !== undefined || gates.maxDrift !== undefined;
}
