/**
 * The update lifecycle as one transition table (mender style). A phase names the step in progress; an
 * event names how a step ended. The phase is persisted atomically before each side effect, so after a
 * crash the agent resumes the recorded step (each step is idempotent) or, from any step before commit,
 * rolls back to the previous slot, which stays on disk (and loaded) until commit.
 *
 *   idle → downloading → verifying → staging → self-testing → activating → soaking → committed → idle
 *   shadow evaluation (the desired state asks for it): self-testing → shadowing → activating, the second
 *                edge only on the control plane's signed decision (see shadow-step.ts)
 *   known bytes: downloading → committed (adopted: they serve already)
 *                downloading → self-testing (reused: they are in the previous slot)
 *   any step before committed → failed → rolled-back → idle
 */
export const PHASES = [
  'idle',
  'downloading',
  'verifying',
  'staging',
  'self-testing',
  'shadowing',
  'activating',
  'soaking',
  'committed',
  'failed',
  'rolled-back',
] as const;
export type Phase = (typeof PHASES)[number];

export const EVENTS = [
  'desired', // a newer verified desired state arrived
  'downloaded', // every chunk is on disk
  'adopted', // the bytes already serve: the new signed manifest is recorded for them (no download)
  'reused', // the bytes are in the other slot (the previous model): re-verified and relabelled there
  'verified', // size and digest match the signed manifest
  'staged', // the verified bytes are in the inactive slot
  'self-test-passed', // the golden input gives the expected output on the staged model
  'shadow-started', // self-tested, and the desired state asks for a shadow evaluation first
  'shadow-approved', // a signed desired state says `activate` (and the activation window is open)
  'activated', // the new session serves requests (the slot pointer flipped)
  'soak-passed', // N good inferences or T seconds healthy
  'fail', // a step failed: roll back
  'rolled-back', // the previous slot serves again
  'done', // the outcome is reported; back to idle
] as const;
export type LifecycleEvent = (typeof EVENTS)[number];

/** Steps during which the previous model is still the one to return to. */
export const UNCOMMITTED: readonly Phase[] = ['downloading', 'verifying', 'staging', 'self-testing', 'shadowing', 'activating', 'soaking'];
/**
 * Steps a newer desired state may interrupt: nothing has touched what serves requests yet (a shadowed
 * candidate only ever runs beside the serving model, never instead of it).
 */
const SUPERSEDABLE: readonly Phase[] = ['idle', 'downloading', 'verifying', 'staging', 'self-testing', 'shadowing', 'committed', 'rolled-back'];

const TABLE: Readonly<Record<Phase, Partial<Record<LifecycleEvent, Phase>>>> = {
  idle: {},
  downloading: { downloaded: 'verifying', adopted: 'committed', reused: 'self-testing' },
  verifying: { verified: 'staging' },
  staging: { staged: 'self-testing' },
  'self-testing': { 'self-test-passed': 'activating', 'shadow-started': 'shadowing' },
  shadowing: { 'shadow-approved': 'activating' },
  activating: { activated: 'soaking' },
  soaking: { 'soak-passed': 'committed' },
  committed: { done: 'idle' },
  failed: { 'rolled-back': 'rolled-back' },
  'rolled-back': { done: 'idle' },
};

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: Phase,
    readonly event: LifecycleEvent,
  ) {
    super(`no transition from '${from}' on '${event}'`);
    this.name = 'IllegalTransitionError';
  }
}

/** The phase after `event` in `from`; throws IllegalTransitionError otherwise. Pure. */
export function nextPhase(from: Phase, event: LifecycleEvent): Phase {
  if (event === 'desired' && SUPERSEDABLE.includes(from)) return 'downloading';
  if (event === 'fail' && UNCOMMITTED.includes(from)) return 'failed';
  const to = TABLE[from][event];
  if (!to) throw new IllegalTransitionError(from, event);
  return to;
}

export const isUncommitted = (phase: Phase): boolean => UNCOMMITTED.includes(phase);
export const canSupersede = (phase: Phase): boolean => SUPERSEDABLE.includes(phase);
