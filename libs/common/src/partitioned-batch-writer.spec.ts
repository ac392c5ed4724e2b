import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { PartitionedBatchWriter } from './partitioned-batch-writer.js';

interface Item {
  readonly key: string;
  readonly n: number;
}

/** Writes that wait until released; records each batch as it starts and which are in flight at once. */
function gated(partitions: number) {
  const releases: (() => void)[] = [];
  const started: Item[][] = [];
  let inFlight = 0;
  let mostAtOnce = 0;
  const keysInFlight = new Set<string>();
  const overlaps: string[] = [];
  const w = new PartitionedBatchWriter<Item>(partitions, (i) => i.key, {
    maxBatch: 2,
    flushMs: 10,
    maxBuffered: 100,
    write: (batch) => {
      started.push(batch);
      mostAtOnce = Math.max(mostAtOnce, ++inFlight);
      const keys = new Set(batch.map((i) => i.key));
      for (const key of keys) if (keysInFlight.has(key)) overlaps.push(key);
      for (const key of keys) keysInFlight.add(key);
      return new Promise<void>((resolve) =>
        releases.push(() => {
          inFlight--;
          for (const key of keys) keysInFlight.delete(key);
          resolve();
        }),
      );
    },
  });
  return { w, releases, started, overlaps, mostAtOnce: () => mostAtOnce };
}

/** Releases every write started so far, and those they lead to, until none is left. */
async function releaseAll(releases: (() => void)[]): Promise<void> {
  for (let i = 0; i < 100 && releases.length > 0; i++) {
    releases.splice(0).forEach((release) => release());
    await jest.advanceTimersByTimeAsync(0);
  }
}

describe('PartitionedBatchWriter', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it("writes different keys' batches at once and each key's items in arrival order, never two batches of one key at once", async () => {
    const { w, releases, started, overlaps, mostAtOnce } = gated(4);
    // Keys that fall in different partitions: 26 keys over 4 partitions.
    const keys = 'abcdefghijklmnopqrstuvwxyz'.split('');
    for (let n = 0; n < 10; n++) for (const key of keys) w.push({ key, n });
    const flushed = w.flush();
    await jest.advanceTimersByTimeAsync(0);
    expect(mostAtOnce()).toBeGreaterThan(1);
    await releaseAll(releases);
    await flushed;
    for (const key of keys) {
      const order = started.flat().filter((i) => i.key === key).map((i) => i.n);
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    expect(mostAtOnce()).toBeLessThanOrEqual(4);
    expect(overlaps).toEqual([]);
    expect(w.pending).toBe(0);
  });

  it('keeps one key in one partition: its next batch waits for the one in flight', async () => {
    const { w, releases, started } = gated(4);
    w.push({ key: 'node-1', n: 1 }, { key: 'node-1', n: 2 }, { key: 'node-1', n: 3 }, { key: 'node-1', n: 4 });
    const flushed = w.flush();
    await jest.advanceTimersByTimeAsync(0);
    expect(started).toEqual([[{ key: 'node-1', n: 1 }, { key: 'node-1', n: 2 }]]);
    expect(w.pending).toBe(4);
    await releaseAll(releases);
    await flushed;
    expect(started.map((b) => b.map((i) => i.n))).toEqual([[1, 2], [3, 4]]);
  });

  it('sums what is pending and reports the oldest wait across partitions; close says how many are left', async () => {
    let clock = 0;
    const w = new PartitionedBatchWriter<Item>(2, (i) => i.key, {
      maxBatch: 100,
      flushMs: 10_000,
      now: () => clock,
      write: () => Promise.reject(new Error('db down')),
    });
    w.push({ key: 'a', n: 1 });
    clock = 500;
    w.push({ key: 'b', n: 2 }, { key: 'c', n: 3 });
    expect(w.pending).toBe(3);
    expect(w.oldestAgeMs(800)).toBe(800);
    expect(await w.close()).toBe(3);
  });
});
