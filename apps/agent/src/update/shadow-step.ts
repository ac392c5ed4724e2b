import type { ShadowDecision } from '#protocol';
import { nextWindowOpening, type RecurringWindow, windowOpen } from '#common';
import type { AgentConfig } from '../config.js';
import { DEFAULT_SHADOW_LIMITS, type ShadowCandidate, ShadowEvaluator, type ShadowLimits, type ShadowTap } from '../shadow/shadow-evaluator.js';
import type { ShadowFigures } from '../shadow/shadow-math.js';
import { delay } from './abort.js';
import type { VerifiedDesired } from './desired.js';
import type { LogFn } from './ports.js';
import { StepFailure } from './step-failure.js';

/** One shadow report: the run's figures so far (libs/protocol `shadowReportMessage`). */
export interface ShadowReport extends ShadowFigures {
  readonly deploymentId: string;
  readonly sha256: string;
  readonly startedAt: Date;
}

export interface ShadowStepDeps {
  readonly tap: ShadowTap;
  /** Publishes a report; a failure to publish is logged, the run goes on (the next report carries the same and more). */
  readonly report: (report: ShadowReport) => Promise<void>;
  readonly reportEveryMs: number;
  /** Per candidate run (ShadowEvaluator) and for the whole phase: shadowing longer without a decision fails the update. */
  readonly limits: ShadowLimits & { readonly maxShadowMs: number };
  readonly log: LogFn;
}

const DECISION_POLL_MS = 100;
/** A day: above the default rollout node timeout (900 s) by far; the control plane decides within its node timeout. */
export const DEFAULT_SHADOW_MAX_SECONDS = 86_400;

/** The shadow step's settings from the agent config (defaults where unset): a report with each heartbeat. */
export function shadowStepSettings(config: Pick<AgentConfig, 'shadow' | 'heartbeatSeconds'>, ports: Pick<ShadowStepDeps, 'tap' | 'report'>): Omit<ShadowStepDeps, 'log'> {
  const limits = {
    inferenceTimeoutMs: config.shadow?.inferenceTimeoutMs ?? DEFAULT_SHADOW_LIMITS.inferenceTimeoutMs,
    maxShadowMs: (config.shadow?.maxSeconds ?? DEFAULT_SHADOW_MAX_SECONDS) * 1000,
  };
  return { tap: ports.tap, report: ports.report, reportEveryMs: config.heartbeatSeconds * 1000, limits };
}

/**
 * The shadow step: the self-tested candidate runs beside the serving model (ShadowEvaluator) and its
 * figures are reported until a verified desired state of the same deployment carries the control
 * plane's decision. `activate` returns that document (the caller records it and moves on to
 * activation); `abandon` fails the update (`shadow-failed`, or `cancelled` for a stopped rollout), which rolls back. Besides a newer
 * deployment (the signal), `limits.maxShadowMs` without a decision ends it as `shadow-failed`: a control
 * plane that never decides must not keep a candidate running beside the serving model for good. A restart starts a new run: the figures of the old one were already
 * reported, and only the decision, never the figures, lets the update through.
 */
export async function shadowCandidate(
  deps: ShadowStepDeps,
  target: VerifiedDesired,
  candidate: ShadowCandidate,
  latest: () => VerifiedDesired | undefined,
  signal: AbortSignal,
): Promise<VerifiedDesired> {
  const order = target.state.shadow;
  if (!order) throw new StepFailure('internal', 'the desired state asks for no shadow evaluation');
  const run = { deploymentId: target.state.deploymentId, sha256: target.manifest.sha256, sampleRate: order.sampleRate };
  const evaluator = new ShadowEvaluator(run, candidate, undefined, deps.limits);
  await deps.tap.begin(evaluator);
  deps.log('info', 'shadow evaluation started', { deploymentId: run.deploymentId, sha256: run.sha256, sampleRate: run.sampleRate });
  // Not awaited: a report waits for its PUBACK, and a partitioned broker must not hold up the decision
  // loop (a decision can only come once the broker is back anyway; the next report carries the figures).
  const send = () =>
    void deps.report({ ...run, startedAt: evaluator.startedAt, ...evaluator.figures() }).catch((error: unknown) =>
      deps.log('warn', 'could not send a shadow report', { deploymentId: run.deploymentId, err: error instanceof Error ? error.message : String(error) }),
    );
  const begun = Date.now();
  try {
    let lastReport = begun;
    for (;;) {
      const decided = decisionOf(latest(), run.deploymentId);
      if (decided) {
        await deps.tap.end();
        send();
        deps.log('info', 'shadow evaluation decided', { deploymentId: run.deploymentId, decision: decided.decision, ...evaluator.figures() });
        if (decided.decision === 'abandon') throw abandoned(decided.document);
        // Approved by a wave that tolerates errors, yet a run never came back: the candidate hangs on a live input.
        if (evaluator.overdueRun()) throw new StepFailure('shadow-failed', 'a shadow run of the candidate never returned from its engine');
        return decided.document;
      }
      if (Date.now() - begun >= deps.limits.maxShadowMs) {
        await deps.tap.end();
        send(); // the last figures, timed-out runs counted (as errors, or skipped where starved of CPU)
        throw new StepFailure('shadow-failed', `no shadow decision from the control plane within ${Math.round(deps.limits.maxShadowMs / 1000)} s of shadowing`);
      }
      if (Date.now() - lastReport >= deps.reportEveryMs) {
        lastReport = Date.now();
        send();
      }
      await delay(DECISION_POLL_MS, signal);
    }
  } finally {
    await deps.tap.end();
  }
}

/**
 * The update's failure when the control plane says `abandon`, by the cause it signed: a rollout stopped
 * for another reason cancelled the update (`cancelled`: the candidate was never judged bad); otherwise the
 * candidate failed the gate or the node ran out of time (`shadow-failed`). No cause (a control plane
 * before it): `shadow-failed`, saying no more than the decision does.
 */
function abandoned(document: VerifiedDesired, what = 'abandoned the candidate'): StepFailure {
  switch (document.state.shadow?.abandonCause) {
    case 'stopped':
      return new StepFailure('cancelled', `the control plane ${what}: its rollout stopped before a shadow verdict`);
    case 'timeout':
      return new StepFailure('shadow-failed', `the control plane ${what}: the rollout stopped waiting for this node (node timeout)`);
    case 'gate':
      return new StepFailure('shadow-failed', `the control plane ${what}: it failed the shadow gate`);
    case undefined:
      return new StepFailure('shadow-failed', `the control plane ${what} after its shadow evaluation`);
  }
}

/** The decision a verified desired state of this deployment carries, if any. */
function decisionOf(document: VerifiedDesired | undefined, deploymentId: string): { decision: ShadowDecision; document: VerifiedDesired } | undefined {
  const decision = document?.state.deploymentId === deploymentId ? document.state.shadow?.decision : undefined;
  return document && decision ? { decision, document } : undefined;
}

/**
 * After an approval, waits for the activation window while re-reading the decision: a rollout that
 * stops before this node activates withdraws the approval (a re-signed copy says `abandon`), and the
 * update then fails by the abandon's cause instead of activating. Answers the approving document to record.
 */
export async function awaitActivation(
  approved: VerifiedDesired,
  latest: () => VerifiedDesired | undefined,
  options: { signal: AbortSignal; onWaiting: (opens: Date | null) => Promise<void>; pollMs?: number },
): Promise<VerifiedDesired> {
  const deploymentId = approved.state.deploymentId;
  let document = approved;
  let waiting = false;
  for (;;) {
    const decided = decisionOf(latest(), deploymentId);
    if (decided?.decision === 'abandon') throw abandoned(decided.document, 'withdrew its approval before activation');
    if (decided) document = decided.document;
    const window: RecurringWindow | undefined = document.state.activationWindow;
    if (!window || windowOpen(window, new Date())) return document;
    if (!waiting) {
      waiting = true;
      await options.onWaiting(nextWindowOpening(window, new Date()));
    }
    await delay(options.pollMs ?? DECISION_POLL_MS, options.signal);
  }
}
