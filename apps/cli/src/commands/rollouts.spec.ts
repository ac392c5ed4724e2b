import { describe, expect, it } from '@jest/globals';
import { describeShadow } from './rollouts.js';

describe('describeShadow (rollouts get)', () => {
  it("puts a wave's shadow figures and the gate's verdict on one line", () => {
    const line = describeShadow({ nodes: 2, samples: 103, skipped: 497, errors: 0, agreement: 0, meanDivergence: 0.91234, meanAbsDiff: 0.2, latencyRatio: 0.94, since: '2026-12-04T20:00:00.000Z', verdict: 'fail', reason: 'agrees on 0.0% of 103 samples (min 95.0%)' });
    expect(line).toBe('fail (agrees on 0.0% of 103 samples (min 95.0%)): 103 samples from 2 nodes (497 skipped, 0 errors), agreement 0.0%, divergence 0.9123, latency x0.94');
  });

  it('shows figures not known yet as -', () => {
    const line = describeShadow({ nodes: 1, samples: 0, skipped: 0, errors: 0, agreement: null, meanDivergence: null, meanAbsDiff: null, latencyRatio: null, since: null, verdict: 'wait', reason: 'need 20 shadow samples (have 0 from 1 nodes)' });
    expect(line).toBe('wait (need 20 shadow samples (have 0 from 1 nodes)): 0 samples from 1 node (0 skipped, 0 errors), agreement -, divergence -, latency x-');
  });
});
