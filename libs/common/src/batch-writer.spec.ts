import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { BatchWriter } from './batch-writer.js';

describe('BatchWriter', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('writes a batch when it is full, in arrival order', async () => {
    const batches: number[][] = [];
    const w = new BatchWriter<number>({ maxBatch: 3, flushMs: 1000, write: async (b) => void batches.push(b) });
    w.push(1, 2, 3, 4);
    await w.flush();
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('writes a partial batch after flushMs', async () => {
    const batches: number[][] = [];
    const w = new BatchWriter<number>({ maxBatch: 100, flushMs: 50, write: async (b) => void batches.push(b) });
    w.push(1);
    w.push(2);
    expect(batches).toEqual([]);
    await jest.advanceTimersByTimeAsync(50);
    expect(batches).toEqual([[1, 2]]);
  });

  it('retries a failed batch ahead of newer items', async () => {
    const batches: number[][] = [];
    let fail = true;
    const errors: number[] = [];
    const w = new BatchWriter<number>({
      maxBatch: 10,
      flushMs: 10,
      write: async (b) => {
        if (fail) throw new Error('db down');
        batches.push(b);
      },
      onError: (_, n) => void errors.push(n),
    });
    w.push(1, 2);
    await w.flush();
    expect(errors).toEqual([2]);
    fail = false;
    w.push(3);
    await w.flush();
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('drops the oldest beyond maxBuffered while writes fail, and says how many', async () => {
    const dropped: number[] = [];
    const w = new BatchWriter<number>({
      maxBatch: 2,
      flushMs: 10,
      maxBuffered: 3,
      write: async () => {
        throw new Error('down');
      },
      onDrop: (n) => void dropped.push(n),
    });
    w.push(1, 2, 3, 4, 5);
    await w.flush();
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(2);
    expect(w.pending).toBe(3);
  });

  it('writes what is left on close', async () => {
    const batches: number[][] = [];
    const w = new BatchWriter<number>({ maxBatch: 100, flushMs: 10_000, write: async (b) => void batches.push(b) });
    w.push(7);
    await w.close();
    expect(batches).toEqual([[7]]);
    expect(() => w.push(8)).toThrow('closed');
  });

  it('on close while writes fail, tries once, says how many are left and arms no retry (the process can exit)', async () => {
    let writes = 0;
    const w = new BatchWriter<number>({
      maxBatch: 10,
      flushMs: 10,
      write: async () => {
        writes++;
        throw new Error('db down');
      },
    });
    w.push(1, 2, 3);
    expect(await w.close()).toBe(3);
    expect(writes).toBe(1);
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(writes).toBe(1);
  });

  describe('a batch refused for its data', () => {
    class DataError extends Error {}
    /** A store that refuses any batch holding a negative number, as PostgreSQL refuses a row it cannot hold. */
    const store = (written: number[], writes: number[][] = []) => async (b: number[]) => {
      writes.push(b);
      if (b.some((n) => n < 0)) throw new DataError('out of range');
      written.push(...b);
    };

    it('is split until the bad items are alone: they are set aside once, every other item is written in order', async () => {
      const written: number[] = [];
      const writes: number[][] = [];
      const poison: number[] = [];
      const errors: unknown[] = [];
      const w = new BatchWriter<number>({
        maxBatch: 16,
        flushMs: 10,
        write: store(written, writes),
        isDataError: (e) => e instanceof DataError,
        onPoison: (items) => void poison.push(...items),
        onError: (e) => void errors.push(e),
      });
      const items = Array.from({ length: 16 }, (_, i) => i + 1);
      items[4] = -5;
      items[11] = -12;
      w.push(...items);
      await w.flush();
      expect(poison).toEqual([-5, -12]);
      expect(written).toEqual(items.filter((n) => n > 0));
      expect(errors).toEqual([]);
      expect(w.pending).toBe(0);
      // Bisection, not one write per item: 2 bad items in 16 cost well under 16 extra writes.
      expect(writes.length).toBeLessThanOrEqual(1 + 2 * 2 * Math.log2(16));
      // Set aside means never retried.
      w.push(100);
      await w.flush();
      expect(poison).toEqual([-5, -12]);
      expect(written.at(-1)).toBe(100);
    });

    it('keeps retrying on a transient error met while splitting, from the first unwritten item', async () => {
      const written: number[] = [];
      let down = false;
      let wentDown = false;
      const errors: number[] = [];
      const poison: number[] = [];
      const w = new BatchWriter<number>({
        maxBatch: 8,
        flushMs: 10,
        write: async (b) => {
          if (down) throw new Error('connection lost');
          if (b.some((n) => n < 0)) {
            // The database goes away right after refusing the first batch (once).
            down = !wentDown;
            wentDown = true;
            throw new DataError('out of range');
          }
          written.push(...b);
        },
        isDataError: (e) => e instanceof DataError,
        onPoison: (items) => void poison.push(...items),
        onError: (_, n) => void errors.push(n),
      });
      w.push(1, -2, 3, 4);
      await w.flush();
      expect(errors).toEqual([2]);
      expect(w.pending).toBe(4);
      down = false;
      await w.flush();
      expect(poison).toEqual([-2]);
      expect(written).toEqual([1, 3, 4]);
    });

    it('is retried like any failure when no isDataError is given', async () => {
      const written: number[] = [];
      const errors: number[] = [];
      const w = new BatchWriter<number>({ maxBatch: 4, flushMs: 10, write: store(written), onError: (_, n) => void errors.push(n) });
      w.push(1, -2);
      await w.flush();
      expect(errors).toEqual([2]);
      expect(w.pending).toBe(2);
    });
  });

  it('reports the age of the oldest unwritten item, including a batch being written', async () => {
    let clock = 1_000;
    let release: () => void = () => undefined;
    const w = new BatchWriter<number>({
      maxBatch: 10,
      flushMs: 10,
      now: () => clock,
      write: () => new Promise<void>((resolve) => (release = resolve)),
    });
    expect(w.oldestAgeMs()).toBe(0);
    w.push(1);
    clock += 300;
    w.push(2);
    expect(w.oldestAgeMs()).toBe(300);
    const flushed = w.flush();
    await jest.advanceTimersByTimeAsync(0);
    clock += 200;
    // Written but not yet stored: still waiting.
    expect(w.pending).toBe(2);
    expect(w.oldestAgeMs()).toBe(500);
    release();
    await flushed;
    expect(w.pending).toBe(0);
    expect(w.oldestAgeMs()).toBe(0);
  });

  it('keeps writing after a callback throws: the batch is retried, later items are written', async () => {
    const batches: number[][] = [];
    let failures = 1;
    const w = new BatchWriter<number>({
      maxBatch: 10,
      flushMs: 10,
      write: async (b) => {
        if (failures-- > 0) throw new Error('db down');
        batches.push(b);
      },
      onError: () => {
        throw new Error('a broken error handler');
      },
    });
    w.push(1, 2);
    await w.flush();
    expect(w.pending).toBe(2);
    w.push(3);
    await jest.advanceTimersByTimeAsync(100);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(w.pending).toBe(0);
  });
});
