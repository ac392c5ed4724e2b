import { canSupersede, type Phase } from './lifecycle.js';

/** One unit of work of an update; the executor map runs each kind. */
export type Step = 'download' | 'verify' | 'stage' | 'self-test' | 'activate' | 'soak' | 'commit' | 'rollback' | 'report-committed';

/** The step each phase performs; the rest of the plan follows in this order. */
const PIPELINE: readonly Step[] = ['download', 'verify', 'stage', 'self-test', 'activate', 'soak', 'commit'];
const STEP_OF_PHASE: Partial<Record<Phase, Step>> = {
  downloading: 'download',
  verifying: 'verify',
  staging: 'stage',
  'self-testing': 'self-test',
  activating: 'activate',
  soaking: 'soak',
  committed: 'commit', // reported, maybe not cleaned up: finishing is idempotent
};

/** What the agent has: the update in progress (persisted) and the model that serves. */
export interface CurrentState {
  readonly phase: Phase;
  readonly deploymentId?: string;
  readonly installedSha256?: string;
}

/** What the control plane wants (already verified against the pinned root). */
export interface DesiredTarget {
  readonly deploymentId: string;
  readonly sha256: string;
}

/**
 * Turns (current, desired) into the steps still to run, as plain data. Pure: table-driven tests cover
 * it, the executor only runs what it says.
 * - a new deployment of another model: the whole pipeline;
 * - the same deployment after a restart: resume at the recorded step;
 * - a crash after `failed`: roll back;
 * - the model that already serves: just report it committed.
 */
export function planUpdate(current: CurrentState, desired: DesiredTarget | undefined): Step[] {
  if (current.phase === 'failed') return ['rollback'];
  if (!desired) return [];
  const resuming = current.deploymentId === desired.deploymentId;
  if (resuming) {
    const step = STEP_OF_PHASE[current.phase];
    return step ? PIPELINE.slice(PIPELINE.indexOf(step)) : [];
  }
  if (!canSupersede(current.phase)) {
    // Activation or soak of another deployment is under way: finish it first; the loop plans again after.
    const step = STEP_OF_PHASE[current.phase];
    return step ? PIPELINE.slice(PIPELINE.indexOf(step)) : [];
  }
  if (desired.sha256 === current.installedSha256) return ['report-committed'];
  return [...PIPELINE];
}
