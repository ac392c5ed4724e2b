import { describe, expect, it } from '@jest/globals';
import { judgeShadow, type ShadowGateSettings, type ShadowWaveFigures } from './shadow-gate.js';

const settings: ShadowGateSettings = { minSamples: 50, minAgreement: 0.95, maxDivergence: 0.05, maxLatencyRatio: 2, maxErrors: 0, durationSeconds: 0 };
const now = new Date('2026-12-02T08:00:00Z');
const good: ShadowWaveFigures = { nodes: 2, samples: 60, agreement: 0.99, meanDivergence: 0.001, meanAbsDiff: 0.01, latencyRatio: 1.1, errors: 0, skipped: 4, since: new Date(now.getTime() - 30_000) };

describe('judgeShadow', () => {
  it('passes a candidate that agrees, stays close and is fast enough, once there are enough samples', () => {
    expect(judgeShadow(settings, good, now).kind).toBe('pass');
  });

  it('waits while there are too few samples, or the wave has not shadowed long enough', () => {
    expect(judgeShadow(settings, { ...good, samples: 49 }, now)).toMatchObject({ kind: 'wait', why: expect.stringContaining('need 50 shadow samples') });
    expect(judgeShadow({ ...settings, durationSeconds: 60 }, good, now)).toMatchObject({ kind: 'wait', why: 'shadowing for 30 of 60 s' });
    expect(judgeShadow(settings, { ...good, samples: 0, agreement: null, since: null }, now).kind).toBe('wait');
  });

  it('fails on errors at once, before the sample minimum', () => {
    expect(judgeShadow(settings, { ...good, samples: 3, errors: 1 }, now)).toMatchObject({ kind: 'fail', reason: 'shadow gate: 1 candidate errors (max 0)' });
  });

  it.each([
    ['a confidently wrong candidate (low agreement)', { agreement: 0.1 }, 'agrees with the serving model on 10.0%'],
    ['outputs far from the serving model', { meanDivergence: 0.2 }, 'divergence 0.2000'],
    ['a slow candidate', { latencyRatio: 5 }, '5.00×'],
  ])('fails %s', (_, change, reason) => {
    expect(judgeShadow(settings, { ...good, ...change }, now)).toMatchObject({ kind: 'fail', reason: expect.stringContaining(reason) });
  });

  it('leaves unset limits alone', () => {
    expect(judgeShadow({ ...settings, maxDivergence: undefined, maxLatencyRatio: undefined }, { ...good, meanDivergence: 0.9, latencyRatio: 50 }, now).kind).toBe('pass');
  });
});
