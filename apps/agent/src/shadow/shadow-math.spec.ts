import { describe, expect, it } from '@jest/globals';
import { asDistribution, jensenShannon, meanAbsDiff, ShadowTally, topClass } from './shadow-math.js';

describe('shadow comparison math', () => {
  it('takes a softmax output as it is and turns logits into a distribution', () => {
    expect(Array.from(asDistribution([0.1, 0.7, 0.2]))).toEqual([0.1, 0.7, 0.2].map((v) => v / 1));
    const fromLogits = asDistribution([0, Math.log(3)]);
    expect(fromLogits[0]).toBeCloseTo(0.25, 12);
    expect(fromLogits[1]).toBeCloseTo(0.75, 12);
  });

  it('gives a Jensen–Shannon divergence of 0 for identical, 1 for disjoint, and the textbook value in between', () => {
    expect(jensenShannon([0.2, 0.8], [0.2, 0.8])).toBe(0);
    expect(jensenShannon([1, 0], [0, 1])).toBe(1);
    // p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4); JS = ½[½log2(2/3) + ½log2(2) + log2(4/3)] ≈ 0.311278
    expect(jensenShannon([0.5, 0.5], [1, 0])).toBeCloseTo(0.311278, 5);
    expect(jensenShannon([0.5, 0.5], [1, 0])).toBe(jensenShannon([1, 0], [0.5, 0.5]));
  });

  it('measures the mean absolute difference and the top class', () => {
    expect(meanAbsDiff([0.1, 0.9], [0.3, 0.7])).toBeCloseTo(0.2, 12);
    expect(topClass([0.1, 0.6, 0.3])).toBe(1);
    expect(topClass([0.5, 0.5])).toBe(0);
  });

  it('tallies agreement, divergence and latency over samples, and counts unusable candidate outputs as errors', () => {
    const tally = new ShadowTally();
    tally.add([0.1, 0.9], [0.2, 0.8], 2, 3); // agrees
    tally.add([0.1, 0.9], [0.9, 0.1], 2, 5); // a confidently wrong candidate: disagrees
    tally.add([0.1, 0.9], [Number.NaN, 0.1], 2, 1); // not finite
    tally.add([0.1, 0.9], [0.1, 0.8, 0.1], 2, 1); // another length
    tally.error();
    tally.skip();
    const f = tally.figures();
    expect(f).toMatchObject({ samples: 2, agreed: 1, errors: 3, skipped: 1, activeLatencyMs: 2 });
    expect(f.candidateLatencyMs).toBeCloseTo(2 * Math.sqrt((3 / 2) * (5 / 2)), 12); // the geometric mean of the ratios
    expect(f.meanAbsDiff).toBeCloseTo((0.1 + 0.8) / 2, 12);
    expect(f.meanDivergence).toBeCloseTo((jensenShannon([0.1, 0.9], [0.2, 0.8]) + jensenShannon([0.1, 0.9], [0.9, 0.1])) / 2, 12);
  });

  it('keeps the latency ratio of equal models near 1 when one sample in a hundred lost its core for a while', () => {
    const tally = new ShadowTally();
    for (let i = 0; i < 99; i++) tally.add([0.1, 0.9], [0.1, 0.9], 0.3, 0.3);
    tally.add([0.1, 0.9], [0.1, 0.9], 0.3, 9); // preempted mid-run: 30x
    const { activeLatencyMs, candidateLatencyMs } = tally.figures();
    expect(candidateLatencyMs / activeLatencyMs).toBeCloseTo(Math.exp(Math.log(30) / 100), 12); // 1.035, where the means would say 1.29
  });

  it('reports zeros, not NaN, before any sample, and never a magnitude a real column refuses', () => {
    expect(new ShadowTally().figures()).toEqual({ samples: 0, agreed: 0, errors: 0, skipped: 0, meanDivergence: 0, meanAbsDiff: 0, activeLatencyMs: 0, candidateLatencyMs: 0 });
    const tally = new ShadowTally();
    tally.add([1 - 1e-300, 1e-300], [1, 0], 1, 1);
    const { meanDivergence, meanAbsDiff: diff } = tally.figures();
    expect(Math.fround(meanDivergence) !== 0 || meanDivergence === 0).toBe(true);
    expect(Math.fround(diff) !== 0 || diff === 0).toBe(true);
  });
});
