import { describe, expect, it } from '@jest/globals';
import type { ShadowWaveFigures } from '../shadow/shadow-gate.js';
import { decidedShadowVerdicts, ROLLOUT_STOPPED, waveShadowVerdict } from './wave-shadow-view.js';

const settings = { minSamples: 30, minAgreement: 0.9, maxErrors: 0, durationSeconds: 0 };
const figures = (samples: number, agreement: number | null): ShadowWaveFigures => ({
  nodes: samples > 0 ? 1 : 0,
  samples,
  agreement,
  meanDivergence: null,
  meanAbsDiff: null,
  latencyRatio: null,
  errors: 0,
  skipped: 0,
  since: samples > 0 ? new Date(0) : null,
});
const verdictEvent = (wave: number, verdict: string, reason?: string) => ({ kind: 'shadow-verdict', detail: { wave, verdict, decision: verdict === 'pass' ? 'activate' : 'abandon', ...(reason ? { reason } : {}) } });

describe('decidedShadowVerdicts (the verdict each wave was sent, from its events)', () => {
  it('keeps the last gate verdict per wave, 0-based, and skips abandons caused by a stop and other events', () => {
    const decided = decidedShadowVerdicts([
      verdictEvent(1, 'pass'),
      { kind: 'node-failed', detail: { wave: 2, verdict: 'fail' } },
      verdictEvent(2, 'pass'),
      verdictEvent(2, 'fail', ROLLOUT_STOPPED),
      verdictEvent(3, 'fail', 'shadow gate: the candidate agrees … on 10.0% of 93 samples (min 90.0%)'),
      { kind: 'shadow-verdict', detail: { wave: '4', verdict: 'pass' } },
    ]);
    expect([...decided]).toEqual([
      [0, { verdict: 'pass', reason: null }],
      [1, { verdict: 'pass', reason: null }],
      [2, { verdict: 'fail', reason: 'shadow gate: the candidate agrees … on 10.0% of 93 samples (min 90.0%)' }],
    ]);
  });
});

describe('waveShadowVerdict (what the rollout view says of a wave)', () => {
  const now = new Date();

  it('keeps the verdict a wave was sent, whatever its figures read now', () => {
    expect(waveShadowVerdict(settings, figures(100, 0.1), { verdict: 'pass', reason: null }, 'passed', now)).toEqual({ verdict: 'pass', reason: null });
  });

  it('says a wave that is over without a verdict has none, instead of waiting for samples forever', () => {
    expect(waveShadowVerdict(settings, figures(0, null), undefined, 'passed', now)).toEqual({ verdict: 'none', reason: expect.stringMatching(/no node of the wave shadowed/) });
    expect(waveShadowVerdict(settings, figures(0, null), undefined, 'stopped', now)).toEqual({ verdict: 'none', reason: expect.stringMatching(/stopped before a shadow verdict/) });
  });

  it('judges a live wave now', () => {
    expect(waveShadowVerdict(settings, figures(10, 1), undefined, 'live', now)).toEqual({ verdict: 'wait', reason: expect.stringMatching(/need 30 shadow samples \(have 10/) });
    expect(waveShadowVerdict(settings, figures(100, 0.5), undefined, 'live', now)).toEqual({ verdict: 'fail', reason: expect.stringMatching(/agrees with the serving model on 50\.0%/) });
    expect(waveShadowVerdict(settings, figures(100, 1), undefined, 'live', now)).toEqual({ verdict: 'pass', reason: null });
  });
});
