import { packHistogram, packSparseHistogram, unpackHistogram } from './packed-histogram.js';

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

  it('packs sparse pairs exactly as their dense form, in or out of order, with zeros and repeats', () => {
    const buckets = 30;
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let trial = 0; trial < 500; trial++) {
      const pairs: [number, number][] = Array.from({ length: random(6) }, () => [random(buckets), random(4) === 0 ? 0 : random(1e6)]);
      if (trial % 2 === 0) pairs.sort((a, b) => a[0] - b[0]);
      const dense = new Array<number>(buckets).fill(0);
      for (const [b, n] of pairs) dense[b] = (dense[b] ?? 0) + n;
      expect(packSparseHistogram(pairs, buckets)).toBe(packHistogram(dense));
    }
    expect(packSparseHistogram([], buckets)).toBe('0');
    expect(packSparseHistogram([[0, 5]], buckets)).toBe('5');
    expect(packSparseHistogram([[1, 5], [3, 0]], buckets)).toBe(`5${'0'.repeat(20)}`);
  });
});
