import { describe, expect, it } from '@jest/globals';
import type { ShadowWaveFigures } from '../shadow/shadow-gate.js';
import { waveShadowVerdict } from './wave-shadow-view.js';

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
describe('waveShadowVerdict (what the rollout view says of a wave)', () => {
  const now = new Date();

  it('keeps the verdict a wave was sent, whatever its figures read now', () => {
    expect(waveShadowVerdict(settings, figures(100, 0.1), { verdict: 'pass', reason: null }, 'passed', now)).toEqual({ verdict: 'pass', reason: null });
  });

  it('says a wave that is over without a verdict has none, instead of waiting for samples forever', () => {
    expect(waveShadowVerdict(settings, figures(0, null), undefined, 'passed', now)).toEqual({ verdict: 'none', reason: expect.stringMatching(/no verdict was sent to this wave's nodes/) });
    expect(waveShadowVerdict(settings, figures(0, null), undefined, 'stopped', now)).toEqual({ verdict: 'none', reason: expect.stringMatching(/stopped before a shadow verdict/) });
  });

  it('judges a live wave now', () => {
    expect(waveShadowVerdict(settings, figures(10, 1), undefined, 'live', now)).toEqual({ verdict: 'wait', reason: expect.stringMatching(/need 30 shadow samples \(have 10/) });
    expect(waveShadowVerdict(settings, figures(100, 0.5), undefined, 'live', now)).toEqual({ verdict: 'fail', reason: expect.stringMatching(/agrees with the serving model on 50\.0%/) });
    expect(waveShadowVerdict(settings, figures(100, 1), undefined, 'live', now)).toEqual({ verdict: 'pass', reason: null });
  });
});
