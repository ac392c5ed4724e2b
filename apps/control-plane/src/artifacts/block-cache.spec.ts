import { describe, expect, it } from '@jest/globals';
import { BlockCache } from './block-cache.js';

const blob = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
/** A source that records the block ranges asked of it. */
function source(fail?: () => boolean) {
  const asked: [number, number][] = [];
  const fetch = async (start: number, end: number) => {
    asked.push([start, end]);
    if (fail?.()) throw new Error('source down');
    return blob.subarray(start, end);
  };
  return { asked, fetch };
}

describe('BlockCache', () => {
  it('gives exact ranges, across blocks and at the short last block', async () => {
    const cache = new BlockCache(16, 1000);
    const { fetch } = source();
    for (const [offset, length] of [[0, 1], [10, 20], [95, 5], [0, 100], [40, 0]] as const) {
      expect(await cache.read('a', 100, offset, length, fetch)).toEqual(blob.subarray(offset, offset + length));
    }
  });

  it('fetches each block once for concurrent readers and serves repeats from memory', async () => {
    const cache = new BlockCache(16, 1000);
    const { asked, fetch } = source();
    await Promise.all(Array.from({ length: 10 }, (_, i) => cache.read('a', 100, i * 10, 10, fetch)));
    await cache.read('a', 100, 0, 100, fetch);
    expect(asked).toEqual([[0, 16], [16, 32], [32, 48], [48, 64], [64, 80], [80, 96], [96, 100]]);
  });

  it('holds at most its bound, evicting the least recently used block', async () => {
    const cache = new BlockCache(16, 40);
    const { asked, fetch } = source();
    await cache.read('a', 100, 0, 1, fetch); // block 0
    await cache.read('a', 100, 16, 1, fetch); // block 1
    await cache.read('a', 100, 0, 1, fetch); // block 0 used again
    await cache.read('a', 100, 32, 1, fetch); // block 2: block 1 goes
    expect(cache.sizeBytes).toBeLessThanOrEqual(40);
    await cache.read('a', 100, 0, 1, fetch);
    await cache.read('a', 100, 16, 1, fetch);
    expect(asked.map(([start]) => start)).toEqual([0, 16, 32, 16]);
  });

  it('keeps blobs apart and does not cache a failed fetch', async () => {
    const cache = new BlockCache(16, 1000);
    let down = true;
    const { asked, fetch } = source(() => down);
    await expect(cache.read('a', 100, 0, 4, fetch)).rejects.toThrow('source down');
    down = false;
    expect(await cache.read('a', 100, 0, 4, fetch)).toEqual(blob.subarray(0, 4));
    await cache.read('b', 100, 0, 4, fetch);
    expect(asked).toHaveLength(3);
  });

  it('refuses a range outside the blob', async () => {
    await expect(new BlockCache(16, 1000).read('a', 100, 90, 20, source().fetch)).rejects.toThrow(RangeError);
  });
});
