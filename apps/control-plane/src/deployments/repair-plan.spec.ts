import { describe, expect, it } from '@jest/globals';
import { chunkBytes, fitBudget, repairBudgetBytes, requestedChunks, totalBytes } from './repair-plan.js';

const KiB = 1024;
/** 10 chunks of 128 KiB, the last one 64 KiB. */
const layout = { size: 9 * 128 * KiB + 64 * KiB, chunkSize: 128 * KiB };

describe('requestedChunks', () => {
  it.each([
    ['one range', [[2, 4]], [2, 3, 4]],
    ['the same range twice', [[2, 4], [2, 4]], [2, 3, 4]],
    ['overlapping ranges in any order', [[5, 7], [2, 6], [3, 3]], [2, 3, 4, 5, 6, 7]],
    ['adjacent ranges', [[0, 1], [2, 2]], [0, 1, 2]],
    ['a range past the end, clipped to the artifact', [[8, 1_000_000]], [8, 9]],
    ['a range wholly past the end', [[10, 20]], []],
  ] as [string, [number, number][], number[]][])('merges %s', (_, missing, expected) => {
    expect(requestedChunks(missing, layout)).toEqual(expected);
  });

  it('lists at most `max` indices, the lowest first', () => {
    expect(requestedChunks([[6, 9], [0, 9]], layout, 4)).toEqual([0, 1, 2, 3]);
  });

  it('does work bounded by the ranges and the cap, not by what the ranges span', () => {
    // 2^40 chunks, each range spanning all of them: walking a span (or a set of every index) would not
    // end within the test's timeout, so no clock is read here (a timed assertion fails on a busy machine).
    const huge = { size: 2 ** 40 * 1024, chunkSize: 1024 };
    const missing = Array.from({ length: 1024 }, (_, i) => [i, 2 ** 40 - 1] as [number, number]);
    const listed = requestedChunks(missing, huge);
    expect(listed).toHaveLength(8192);
    expect(listed.at(-1)).toBe(8191);
  });
});

describe('repair budget', () => {
  it('counts the short last chunk by its real size', () => {
    expect(chunkBytes(layout, 0)).toBe(128 * KiB);
    expect(chunkBytes(layout, 9)).toBe(64 * KiB);
    expect(totalBytes(layout, [0, 9])).toBe(192 * KiB);
  });

  it('is a multiple of the artifact size', () => {
    expect(repairBudgetBytes(layout, 2)).toBe(2 * layout.size);
    expect(repairBudgetBytes(layout, 1.5)).toBe(Math.floor(1.5 * layout.size));
  });

  it('sends the chunks that fit in what is left, lowest first, and refuses the rest', () => {
    const budget = repairBudgetBytes(layout, 2);
    expect(fitBudget(layout, [0, 1, 2], 0, budget)).toEqual({ send: [0, 1, 2], refused: [] });
    // 64 KiB short of a whole artifact left: the short last chunk would fit, but the lower ones come first.
    const used = budget - layout.size + 64 * KiB;
    expect(fitBudget(layout, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], used, budget)).toEqual({ send: [0, 1, 2, 3, 4, 5, 6, 7, 8], refused: [9] });
    expect(fitBudget(layout, [3, 4], budget, budget)).toEqual({ send: [], refused: [3, 4] });
    expect(fitBudget(layout, [3], budget + 1, budget)).toEqual({ send: [], refused: [3] });
  });
});
