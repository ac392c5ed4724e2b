import { canSupersede, type Phase } from './lifecycle.js';

/** One unit of work of an update; the executor map runs each kind. */
export type Step = 'download' | 'verify' | 'stage' | 'self-test' | 'shadow' | 'activate' | 'soak' | 'commit' | 'rollback' | 'adopt' | 'reuse-slot' | 'abandon' | 'confirm';

/** The step each phase performs; the rest of the plan follows in this order. */
const FULL_PIPELINE: readonly Step[] = ['download', 'verify', 'stage', 'self-test', 'shadow', 'activate', 'soak', 'commit'];
const STEP_OF_PHASE: Partial<Record<Phase, Step>> = {
  downloading: 'download',
  verifying: 'verify',
  staging: 'stage',
  'self-testing': 'self-test',
  shadowing: 'shadow',
  activating: 'activate',
  soaking: 'soak',
  committed: 'commit', // reported, maybe not cleaned up: finishing is idempotent
};

/** What the agent has: the update in progress (persisted) and the models on disk. */
export interface CurrentState {
  readonly phase: Phase;
  readonly deploymentId?: string;
  /** The model that serves (the active slot). */
  readonly installedSha256?: string;
  /** The serving model's bytes plus its serving-relevant manifest fields (see servingKey). */
  readonly installedServingKey?: string;
  /** The model in the other slot: the previous one, still on disk. */
  readonly previousSha256?: string;
}

/** What the control plane wants (already verified against the pinned root). */
export interface DesiredTarget {
  readonly deploymentId: string;
  readonly sha256: string;
  readonly servingKey: string;
  /** It asks for exactly the release that serves and is committed (see asksForServingRelease). */
  readonly servesAlready?: boolean;
  /** It asks for a shadow evaluation between self-test and activation. */
  readonly shadow?: boolean;
}

/**
 * Turns (current, desired) into the steps still to run, as plain data. Pure: table-driven tests cover
 * it, the executor only runs what it says.
 * - a crash after `failed`: roll back;
 * - the same deployment after a restart: resume at the recorded step;
 * - another deployment while one activates or soaks: abandon that one (roll back), then plan again;
 * - exactly the release that serves and is committed, with nothing in flight: only confirm it (record
 *   the deployment, report it committed) — a report-only plan changes no phase and re-runs nothing;
 * - bytes that already serve, with the same preprocessing, specs and labels: adopt the new signed
 *   manifest for them (a metadata-only swap); with other ones, the whole pipeline (they must soak, and
 *   a rollback must find the old manifest in the other slot);
 * - bytes in the previous slot: reuse that slot (no download), then self-test, activate, soak, commit;
 * - anything else: the whole pipeline.
 * A desired state that asks for a shadow evaluation gets a `shadow` step between self-test and activate
 * (not on an adopt: those bytes serve already).
 */
export function planUpdate(current: CurrentState, desired: DesiredTarget | undefined): Step[] {
  if (current.phase === 'failed') return ['rollback'];
  if (!desired) return [];
  // A record in `shadowing` keeps its shadow step whatever a later copy says: only a decision ends it.
  const resuming = current.deploymentId === desired.deploymentId;
  const pipeline = desired.shadow || (resuming && current.phase === 'shadowing') ? FULL_PIPELINE : FULL_PIPELINE.filter((step) => step !== 'shadow');
  if (!resuming && !canSupersede(current.phase)) return ['abandon'];
  if (resuming && current.phase !== 'downloading') {
    const step = STEP_OF_PHASE[current.phase];
    return step ? pipeline.slice(pipeline.indexOf(step)) : [];
  }
  if (!resuming && current.phase === 'idle' && desired.servesAlready) return ['confirm'];
  if (desired.sha256 === current.installedSha256 && desired.servingKey === current.installedServingKey) return ['adopt', 'commit'];
  if (desired.sha256 === current.previousSha256) return ['reuse-slot', ...pipeline.slice(pipeline.indexOf('self-test'))];
  return [...pipeline];
}
