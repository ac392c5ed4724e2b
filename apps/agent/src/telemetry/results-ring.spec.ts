import { describe, expect, it, jest } from '@jest/globals';
import type { InferenceRecord } from '../api/inference-service.js';
import { ResultsRing } from './results-ring.js';

const model = { sha256: 'a'.repeat(64), name: 'digits', version: '1.0.0', variant: 'onnx' };
const record = (topClass: number, inputRef?: string): InferenceRecord => ({ at: 1_700_000_000_000, model, inputRef, topClass, confidence: 0.5, latencyMs: 1 });
const encode = (seq: number, r: InferenceRecord) => `${seq}:${r.topClass}:${r.inputRef ?? ''}:${r.model.version}`;

function ring(options: { maxBatch?: number; maxRecords?: number; fail?: () => boolean } = {}) {
  const written: string[][] = [];
  const drops: number[] = [];
  const results = new ResultsRing({
    encode,
    write: async (records) => {
      if (options.fail?.()) throw new Error('disk full');
      written.push(records.texts());
    },
    maxBatch: options.maxBatch ?? 3,
    flushMs: 250,
    maxRecords: options.maxRecords ?? 10_000,
    onDrop: (count) => drops.push(count),
  });
  return { results, written, drops };
}

/** A ring whose first write holds (a loaded disk's fsync) until `release()`; later writes are immediate. */
function firstWriteHeld(flushMs: number) {
  const written: string[][] = [];
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const results = new ResultsRing({
    encode,
    write: (records) => {
      written.push(records.texts());
      return written.length === 1 ? held : Promise.resolve();
    },
    maxBatch: 3,
    flushMs,
    maxRecords: 10_000,
  });
  return { results, written, held, release };
}

/** A ring whose every write fails after `writeMs` (a failing disk), counting the attempts; maxBatch 2, flushMs 1000. */
function failingRing(writeMs: number) {
  let attempts = 0;
  const results = new ResultsRing({
    encode,
    write: async () => {
      attempts++;
      await new Promise((resolve) => setTimeout(resolve, writeMs));
      throw new Error('disk failing');
    },
    maxBatch: 2,
    flushMs: 1000,
    maxRecords: 10_000,
  });
  return { results, attempts: () => attempts };
}

describe('ResultsRing', () => {
  it('writes records in order, in batches of at most maxBatch once that many wait, and a smaller rest after flushMs', async () => {
    jest.useFakeTimers();
    try {
      const { results, written } = ring();
      for (let i = 1; i <= 4; i++) results.push(i, record(i, i === 2 ? 'frame-2' : undefined));
      await jest.advanceTimersByTimeAsync(0);
      expect(written).toEqual([['1:1::1.0.0', '2:2:frame-2:1.0.0', '3:3::1.0.0']]);
      results.push(5, record(5));
      await jest.advanceTimersByTimeAsync(200);
      expect(written).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(50); // flushMs after record 4 arrived: the rest, in one batch
      expect(written.at(-1)).toEqual(['4:4::1.0.0', '5:5::1.0.0']);
      expect(results.pending).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('leaves records that arrive during a write for a full batch or their flushMs, not for a small batch right after it', async () => {
    jest.useFakeTimers();
    try {
      const written: string[][] = [];
      const releases: (() => void)[] = [];
      const results = new ResultsRing({
        encode,
        write: (records) => {
          written.push(records.texts());
          return new Promise<void>((resolve) => releases.push(resolve));
        },
        maxBatch: 3,
        flushMs: 250,
        maxRecords: 10_000,
      });
      for (let i = 1; i <= 3; i++) results.push(i, record(i)); // a full batch: its write starts
      await jest.advanceTimersByTimeAsync(0);
      results.push(4, record(4)); // arrives during the write
      releases.shift()?.();
      await jest.advanceTimersByTimeAsync(100);
      expect(written).toHaveLength(1);
      for (let i = 5; i <= 6; i++) results.push(i, record(i)); // a full batch again: written at once
      await jest.advanceTimersByTimeAsync(0);
      expect(written.at(-1)).toEqual(['4:4::1.0.0', '5:5::1.0.0', '6:6::1.0.0']);
      results.push(7, record(7));
      releases.shift()?.();
      await jest.advanceTimersByTimeAsync(249);
      expect(written).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(1); // flushMs after record 7 arrived
      expect(written.at(-1)).toEqual(['7:7::1.0.0']);
      releases.shift()?.();
      await results.close();
      expect(results.pending).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('writes what a flush asked for even when it arrived during a write under way', async () => {
    const { results, written, release } = firstWriteHeld(60_000);
    for (let i = 1; i <= 3; i++) results.push(i, record(i));
    await new Promise((resolve) => setImmediate(resolve)); // the first write is under way
    results.push(4, record(4));
    const closed = results.close();
    release();
    await closed;
    expect(written).toEqual([['1:1::1.0.0', '2:2::1.0.0', '3:3::1.0.0'], ['4:4::1.0.0']]);
    expect(results.pending).toBe(0);
  });

  it('writes what close() asks for in the turn right after a drain ended', async () => {
    const { results, written, held: slow, release } = firstWriteHeld(60_000);
    for (let i = 1; i <= 3; i++) results.push(i, record(i));
    await new Promise((resolve) => setImmediate(resolve)); // the drain waits on the slow write
    let closed: Promise<void> = Promise.resolve();
    // Runs just after the drain's own continuation: its loop has found nothing left to write.
    void slow.then(() => {
      results.push(4, record(4));
      closed = results.close();
    });
    release();
    await slow;
    await closed;
    expect(written.flat()).toEqual(['1:1::1.0.0', '2:2::1.0.0', '3:3::1.0.0', '4:4::1.0.0']);
    expect(results.pending).toBe(0);
  });

  it('still writes a small rest within flushMs after its timer fired while a slow write was under way', async () => {
    jest.useFakeTimers();
    try {
      // The first write is slow: the flush timer fires while it runs.
      const { results, written, release } = firstWriteHeld(250);
      for (let i = 1; i <= 3; i++) results.push(i, record(i)); // a full batch: its write starts and hangs
      results.push(4, record(4)); // arms the timer
      await jest.advanceTimersByTimeAsync(250); // fires during the slow write
      release();
      await jest.advanceTimersByTimeAsync(0); // the drain writes record 4 and ends
      expect(written.flat()).toHaveLength(4);
      results.push(5, record(5)); // alone, below maxBatch: only the timer writes it
      await jest.advanceTimersByTimeAsync(250);
      expect(written.flat().at(-1)).toBe('5:5::1.0.0');
      expect(results.pending).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('encodes each record in the turn after the one that pushed it (after the response), not when its batch closes', async () => {
    let encoded = 0;
    const written: string[][] = [];
    const results = new ResultsRing({
      encode: (seq, r) => {
        encoded++;
        return encode(seq, r);
      },
      write: async (records) => void written.push(records.texts()),
      maxBatch: 1000,
      flushMs: 60_000,
      maxRecords: 10_000,
    });
    for (let i = 0; i < 3; i++) results.push(i, record(i));
    expect(encoded).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(encoded).toBe(3);
    expect(written).toEqual([]); // far from full and from its flushMs: the batch stays open
    results.push(3, record(3));
    await results.flush();
    expect(encoded).toBe(4);
    expect(written).toEqual([['0:0::1.0.0', '1:1::1.0.0', '2:2::1.0.0', '3:3::1.0.0']]);
  });

  it('waits ten times flushMs before writing a failed batch again, even when records arrived during the failed write', async () => {
    jest.useFakeTimers();
    try {
      const { results, attempts } = failingRing(10); // a slow failing write...
      results.push(1, record(1));
      results.push(2, record(2));
      await jest.advanceTimersByTimeAsync(5);
      expect(attempts()).toBe(1);
      results.push(3, record(3)); // ...during which a record arrives
      await jest.advanceTimersByTimeAsync(5000);
      expect(attempts()).toBe(1); // not after flushMs
      results.push(4, record(4)); // a full batch: the failed one is tried first, once
      await jest.advanceTimersByTimeAsync(20);
      expect(attempts()).toBe(2);
      expect(results.pending).toBe(4);
      await jest.advanceTimersByTimeAsync(9000);
      expect(attempts()).toBe(2);
      await jest.advanceTimersByTimeAsync(1100); // ten times flushMs after that failure
      expect(attempts()).toBe(3);
    } finally {
      jest.useRealTimers();
    }
  });

  it('keeps the ten-times wait when a failing write outlasts flushMs (batches closed meanwhile go with the retry)', async () => {
    jest.useFakeTimers();
    try {
      const { results, attempts } = failingRing(2000); // a dying disk: 2 s, then an error
      results.push(1, record(1));
      results.push(2, record(2));
      await jest.advanceTimersByTimeAsync(10);
      results.push(3, record(3)); // its flushMs timer fires during the write and closes a partial batch
      await jest.advanceTimersByTimeAsync(2100); // the write has failed
      expect(attempts()).toBe(1);
      results.push(4, record(4)); // a record after the failure: no early retry
      await jest.advanceTimersByTimeAsync(5000);
      expect(attempts()).toBe(1);
      await jest.advanceTimersByTimeAsync(5000); // ten times flushMs after the failure
      expect(attempts()).toBe(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('reports records outside the contract with their count, not one log per record', async () => {
    const reports: number[] = [];
    const written: string[][] = [];
    const results = new ResultsRing({
      encode: (seq, r) => {
        if (seq % 2 === 0) throw new Error(`seq ${seq} is outside the contract`);
        return encode(seq, r);
      },
      write: async (records) => void written.push(records.texts()),
      onUnencodable: (_error, count) => reports.push(count),
      maxBatch: 100,
      flushMs: 60_000,
      maxRecords: 10_000,
    });
    for (let i = 1; i <= 9; i++) {
      results.push(i, record(i));
      await new Promise((resolve) => setImmediate(resolve)); // a turn each, as requests come
    }
    await results.close();
    expect(reports).toEqual([1, 3]); // the first at once, the rest together (within ten seconds), at close at the latest
    expect(written.flat().map((t) => Number(t.split(':')[0]))).toEqual([1, 3, 5, 7, 9]);
  });

  it('keeps order across many batches and flushes', async () => {
    const { results, written } = ring({ maxBatch: 5000 });
    for (let i = 0; i < 700; i++) results.push(i, record(i));
    await results.flush();
    for (let i = 700; i < 3000; i++) results.push(i, record(i));
    await results.close();
    expect(written.flat().map((s) => Number(s.split(':')[0]))).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  });

  it('drops the oldest past maxRecords and reports how many once per write, not per request', async () => {
    let failing = true;
    const { results, written, drops } = ring({ maxBatch: 2000, maxRecords: 1500, fail: () => failing });
    for (let i = 0; i < 2000; i++) results.push(i, record(i));
    await results.flush();
    failing = false;
    await results.close();
    expect(written.flat().map((s) => Number(s.split(':')[0]))).toEqual(Array.from({ length: 1500 }, (_, i) => i + 500));
    expect(drops.reduce((a, b) => a + b, 0)).toBe(500);
    expect(drops.length).toBeLessThanOrEqual(2); // per write, not per request
  });

  it('writes a failed batch again before anything newer', async () => {
    let failures = 1;
    const { results, written } = ring({ maxBatch: 2, fail: () => failures-- > 0 });
    results.push(1, record(1));
    results.push(2, record(2));
    await results.flush();
    expect(written).toEqual([]);
    expect(results.pending).toBe(2);
    results.push(3, record(3));
    await results.close();
    expect(written).toEqual([['1:1::1.0.0', '2:2::1.0.0'], ['3:3::1.0.0']]);
  });

  it('closes a batch once its encoded records reach maxBatchBytes, and writes the rest in the next', async () => {
    const written: string[][] = [];
    const results = new ResultsRing({ encode, write: async (records) => void written.push(records.texts()), maxBatch: 100, maxBatchBytes: 30, flushMs: 250, maxRecords: 10_000 });
    for (let i = 1; i <= 5; i++) results.push(i, record(i)); // each record is 10 bytes, 11 with its comma
    await results.close();
    expect(written).toEqual([['1:1::1.0.0', '2:2::1.0.0', '3:3::1.0.0'], ['4:4::1.0.0', '5:5::1.0.0']]);
  });
});
