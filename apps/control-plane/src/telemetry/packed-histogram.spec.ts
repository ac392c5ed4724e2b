import { packHistogram, unpackHistogram } from './packed-histogram.js';

describe('packed histogram', () => {
  it('round-trips dense counts, and adding packed values adds bucket by bucket', () => {
    const a = [0, 3, 0, 0, 12, 1];
    const b = [7, 0, 0, 5, 99_999_999_999, 0];
    expect(unpackHistogram(packHistogram(a), 6)).toEqual(a);
    const sum = (BigInt(packHistogram(a)) + BigInt(packHistogram(b))).toString();
    expect(unpackHistogram(sum, 6)).toEqual(a.map((x, i) => x + (b[i] ?? 0)));
  });

  it('reads empty, null and scaled text as zeros', () => {
    expect(packHistogram([0, 0])).toBe('0');
    expect(unpackHistogram(null, 3)).toEqual([0, 0, 0]);
    expect(unpackHistogram('500000000000000000000.000', 3)).toEqual([0, 5, 0]);
  });
});
