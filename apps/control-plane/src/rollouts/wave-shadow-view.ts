import { judgeShadow, type ShadowGateSettings, type ShadowWaveFigures } from '../shadow/shadow-gate.js';

/** The reason of a `shadow-verdict` event whose nodes were abandoned because the rollout stopped, not by the gate (events before `cause`). */
export const ROLLOUT_STOPPED = 'the rollout stopped';

/** What the rollout view says of a wave's shadow evaluation. */
export interface WaveShadowVerdict {
  /** `none`: the wave is over and no verdict was ever taken in it. */
  readonly verdict: 'pass' | 'wait' | 'fail' | 'none';
  readonly reason: string | null;
}

/**
 * A wave's verdict as the view shows it. A decided wave keeps the verdict its nodes were sent: judged
 * again later, its figures (which keep arriving) could read otherwise. A wave still shadowing is judged
 * now. A wave that is over without any verdict — its nodes already had the candidate's bytes and
 * activated them at once, or timed out or failed first, or the rollout stopped — says so, rather than
 * waiting for samples forever.
 */
export function waveShadowVerdict(
  settings: ShadowGateSettings,
  figures: ShadowWaveFigures,
  decided: WaveShadowVerdict | undefined,
  over: 'live' | 'passed' | 'stopped',
  now: Date,
): WaveShadowVerdict {
  if (decided) return decided;
  if (over === 'passed') return { verdict: 'none', reason: "no verdict was sent to this wave's nodes (nodes that already had the candidate's bytes activated it at once, or they timed out or failed first)" };
  if (over === 'stopped') return { verdict: 'none', reason: 'the rollout stopped before a shadow verdict' };
  const verdict = judgeShadow(settings, figures, now);
  return { verdict: verdict.kind, reason: verdict.kind === 'fail' ? verdict.reason : verdict.kind === 'wait' ? verdict.why : null };
}
