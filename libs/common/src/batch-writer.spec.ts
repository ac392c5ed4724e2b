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
});
