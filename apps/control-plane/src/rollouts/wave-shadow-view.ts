import { judgeShadow, type ShadowGateSettings, type ShadowWaveFigures } from '../shadow/shadow-gate.js';
import type { RolloutEvent } from './rollout-event.entity.js';

/** The reason of a `shadow-verdict` event whose nodes were abandoned because the rollout stopped, not by the gate. */
export const ROLLOUT_STOPPED = 'the rollout stopped';

/** What the rollout view says of a wave's shadow evaluation. */
export interface WaveShadowVerdict {
  /** `none`: the wave is over and no verdict was ever taken in it. */
  readonly verdict: 'pass' | 'wait' | 'fail' | 'none';
  readonly reason: string | null;
}

/**
 * The last gate verdict of each wave (0-based key) from its `shadow-verdict` events: the decision its
 * nodes were sent. Abandons because the rollout stopped are not verdicts about the candidate.
 */
export function decidedShadowVerdicts(events: readonly Pick<RolloutEvent, 'kind' | 'detail'>[]): Map<number, WaveShadowVerdict> {
  const decided = new Map<number, WaveShadowVerdict>();
  for (const { kind, detail } of events) {
    const wave = detail['wave'];
    const verdict = detail['verdict'];
    if (kind !== 'shadow-verdict' || typeof wave !== 'number' || (verdict !== 'pass' && verdict !== 'fail') || detail['reason'] === ROLLOUT_STOPPED) continue;
    decided.set(wave - 1, { verdict, reason: typeof detail['reason'] === 'string' ? detail['reason'] : null });
  }
  return decided;
}

/**
 * A wave's verdict as the view shows it. A decided wave keeps the verdict its nodes were sent: judged
 * again later, its figures (which keep arriving) could read otherwise. A wave still shadowing is judged
 * now. A wave that is over without any verdict — its nodes already had the candidate's bytes and
 * activated them at once, or the rollout stopped first — says so, rather than waiting for samples forever.
 */
export function waveShadowVerdict(
  settings: ShadowGateSettings,
  figures: ShadowWaveFigures,
  decided: WaveShadowVerdict | undefined,
  over: 'live' | 'passed' | 'stopped',
  now: Date,
): WaveShadowVerdict {
  if (decided) return decided;
  if (over === 'passed') return { verdict: 'none', reason: 'no node of the wave shadowed the candidate (nodes that already had its bytes activate it at once)' };
  if (over === 'stopped') return { verdict: 'none', reason: 'the rollout stopped before a shadow verdict' };
  const verdict = judgeShadow(settings, figures, now);
  return { verdict: verdict.kind, reason: verdict.kind === 'fail' ? verdict.reason : verdict.kind === 'wait' ? verdict.why : null };
}
