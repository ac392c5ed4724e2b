import { describe, expect, it } from '@jest/globals';
import { assignWaves, planWaves, waveOrder } from './waves.js';

describe('planWaves', () => {
  it('turns cumulative percentages into wave sizes that cover every target', () => {
    expect(planWaves(100, { percentages: [10, 50, 100] })).toEqual([10, 40, 50]);
    expect(planWaves(100, { percentages: [1, 10] })).toEqual([1, 9, 90]); // 100% implied
    expect(planWaves(3, { percentages: [1, 10, 50] })).toEqual([1, 1, 1]); // rounded up, never empty
    expect(planWaves(1, { percentages: [10, 50] })).toEqual([1]);
  });

  it('ramps exponentially until every target is covered', () => {
    expect(planWaves(100, { exponential: { first: 1, factor: 2 } })).toEqual([1, 2, 4, 8, 16, 32, 37]);
    expect(planWaves(10, { exponential: { first: 5, factor: 3 } })).toEqual([5, 5]);
  });

  it('plans nothing for no targets', () => {
    expect(planWaves(0, { percentages: [100] })).toEqual([]);
  });

  it('sums to the target count for many shapes', () => {
    for (let total = 1; total < 300; total += 7) {
      expect(planWaves(total, { percentages: [1, 5, 25, 60] }).reduce((a, b) => a + b, 0)).toBe(total);
      expect(planWaves(total, { exponential: { first: 3, factor: 1.5 } }).reduce((a, b) => a + b, 0)).toBe(total);
    }
  });
});

describe('waveOrder and assignWaves', () => {
  const ids = Array.from({ length: 50 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);

  it('is stable for a rollout and differs between rollouts', () => {
    expect(waveOrder('r1', ids)).toEqual(waveOrder('r1', [...ids].reverse()));
    expect(waveOrder('r1', ids)).not.toEqual(waveOrder('r2', ids));
    expect(new Set(waveOrder('r1', ids)).size).toBe(50);
  });

  it('fills waves in order by size', () => {
    const waves = assignWaves(ids, [5, 15, 30]);
    const counts = [0, 0, 0];
    for (const w of waves.values()) counts[w]!++;
    expect(counts).toEqual([5, 15, 30]);
    expect(waves.get(ids[0]!)).toBe(0);
    expect(waves.get(ids[49]!)).toBe(2);
  });
});
