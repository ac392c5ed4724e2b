import { describe, expect, it } from '@jest/globals';
import { resultRecord } from '../api/inference-service.js';
import type { InferenceRecord } from '../api/inference-service.js';
import { KeptResults } from './kept-results.js';
import { ResultsGate } from './results-gate.js';
import { ResultsPolicyBook } from './results-policy-book.js';
import { sendsResult } from '#protocol';

const HOUR = 3_600_000;
const T0 = 1_800_000_000_000;
const model = { sha256: 'a'.repeat(64), name: 'digits', version: '1.0.0', variant: 'onnx' };
const record = (at: number, inputRef?: string): InferenceRecord => ({ at, model, inputRef, topClass: 3, confidence: 0.5, latencyMs: 1 });

function store(limits: { maxAgeMs?: number; maxBytes?: number } = {}) {
  let now = T0;
  const kept = new KeptResults({ maxAgeMs: limits.maxAgeMs ?? 24 * HOUR, maxBytes: limits.maxBytes ?? 1_000_000 }, () => now);
  return { kept, advance: (ms: number) => (now += ms), at: () => now };
}

describe('KeptResults', () => {
  it('finds kept records by inputRef, every record of a reference, and nothing for an unknown one', () => {
    const { kept } = store();
    kept.keep(T0, 'a', 'A1');
    kept.keep(T0 + 1, 'b', 'B1');
    kept.keep(T0 + 2, 'a', 'A2');
    kept.keep(T0 + 3, undefined, 'X');
    expect(kept.find({ inputRefs: ['a'] })).toEqual(['A1', 'A2']);
    expect(kept.find({ inputRefs: ['b', 'b', 'zzz'] })).toEqual(['B1']);
    expect(kept.find({ from: T0 + 1, to: T0 + 3 })).toEqual(['B1', 'A2', 'X']);
  });

  it('finds one reference holding more records than a call takes arguments', () => {
    const { kept } = store({ maxBytes: 10_000_000 });
    for (let i = 0; i < 200_000; i++) kept.keep(T0, 'same', 'r');
    expect(kept.find({ inputRefs: ['same'] })).toHaveLength(1000);
  });

  it('forgets records older than maxAgeMs, also from the inputRef index', () => {
    const { kept, advance } = store({ maxAgeMs: HOUR });
    kept.keep(T0, 'old', 'OLD');
    advance(HOUR / 2);
    kept.keep(T0 + HOUR / 2, 'new', 'NEW');
    advance(HOUR / 2 + 1);
    expect(kept.find({ inputRefs: ['old', 'new'] })).toEqual(['NEW']);
    expect(kept.size).toBe(1);
    expect(kept.evicted).toBe(1);
  });

  it('holds at most maxBytes: the oldest go first, and a record larger than the bound is not kept', () => {
    const { kept } = store({ maxBytes: 100 });
    for (let i = 0; i < 50; i++) kept.keep(T0 + i, `r${i}`, 'x'.repeat(10));
    expect(kept.heldBytes).toBeLessThanOrEqual(100);
    expect(kept.size).toBe(10);
    expect(kept.evicted).toBe(40);
    expect(kept.find({ inputRefs: ['r39', 'r40'] })).toEqual(['x'.repeat(10)]);
    kept.keep(T0 + 60, 'huge', 'y'.repeat(101));
    expect(kept.find({ inputRefs: ['huge'] })).toEqual([]);
    expect(kept.size).toBe(10);
  });

  it('keeps holding its bounds over many evictions (the front is compacted)', () => {
    const { kept } = store({ maxBytes: 5_000 });
    for (let i = 0; i < 100_000; i++) kept.keep(T0 + i, `r${i % 7}`, 'z'.repeat(50));
    expect(kept.size).toBe(100);
    expect(kept.find({ inputRefs: ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6'] })).toHaveLength(100);
  });

  it('answers with at most one batch (1000), the newest', () => {
    const { kept } = store();
    for (let i = 0; i < 1500; i++) kept.keep(T0 + i, 'same', String(i));
    const found = kept.find({ from: T0, to: T0 + 2000 });
    expect(found).toHaveLength(1000);
    expect(found[0]).toBe('500');
    expect(found[999]).toBe('1499');
  });
});

describe('ResultsGate', () => {
  function gate() {
    const book = new ResultsPolicyBook();
    const kept = new KeptResults({ maxAgeMs: HOUR, maxBytes: 1_000_000 });
    const sent: number[] = [];
    const answered: string[][] = [];
    const g = new ResultsGate(book, kept, {
      send: (seq) => sent.push(seq),
      sendEncoded: async (records) => void answered.push(records),
      encode: resultRecord,
      onEncodeError: () => undefined,
    });
    return { book, kept, g, sent, answered };
  }

  it('sends everything for a release no desired state named a policy for', () => {
    const { g, sent, kept } = gate();
    for (let i = 1; i <= 20; i++) g.route(i, record(Date.now(), `r${i}`));
    expect(sent).toHaveLength(20);
    expect(kept.size).toBe(0);
  });

  it('keeps everything under aggregates and sends what a request names through the results path', async () => {
    const { g, book, sent, kept, answered } = gate();
    book.adopt(model, { mode: 'aggregates' });
    for (let i = 1; i <= 20; i++) g.route(i, record(Date.now(), `r${i}`));
    expect(sent).toHaveLength(0);
    expect(kept.size).toBe(20);
    const id = '6f9619ff-8b86-4d11-b42d-00c04fc964ff';
    await expect(g.answer({ v: 1, id, ts: new Date().toISOString(), inputRefs: ['r3', 'r7', 'nope'] })).resolves.toBe(2);
    expect(answered[0]?.map((r) => (JSON.parse(r) as { inputRef: string }).inputRef)).toEqual(['r3', 'r7']);
  });

  function gateAt(resendAfterMs: number, fail: () => boolean = () => false) {
    let now = T0;
    const book = new ResultsPolicyBook();
    book.adopt(model, { mode: 'aggregates' });
    const kept = new KeptResults({ maxAgeMs: 24 * HOUR, maxBytes: 1_000_000, resendAfterMs }, () => now);
    const answered: string[][] = [];
    const g = new ResultsGate(book, kept, {
      send: () => undefined,
      sendEncoded: async (records) => {
        if (fail()) throw new Error('outbox full');
        answered.push(records);
      },
      encode: resultRecord,
      onEncodeError: () => undefined,
    });
    for (let i = 1; i <= 5; i++) g.route(i, record(now, `r${i}`));
    const ask = (inputRefs: string[]) => g.answer({ v: 1, id: '6f9619ff-8b86-4d11-b42d-00c04fc964ff', ts: new Date(now).toISOString(), inputRefs });
    return { ask, answered, advance: (ms: number) => (now += ms) };
  }
  const refsOf = (records: string[] | undefined) => (records ?? []).map((r) => (JSON.parse(r) as { inputRef: string }).inputRef);

  it('does not send a kept record again on request within resendAfterMs, and sends it again after', async () => {
    const { ask, answered, advance } = gateAt(10 * 60_000);
    await expect(ask(['r1', 'r2'])).resolves.toBe(2);
    for (let n = 0; n < 200; n++) await expect(ask(['r1', 'r2'])).resolves.toBe(0);
    await expect(ask(['r2', 'r3'])).resolves.toBe(1); // only what was not sent lately
    expect(answered.map(refsOf)).toEqual([['r1', 'r2'], ['r3']]);
    advance(10 * 60_000);
    await expect(ask(['r1', 'r2'])).resolves.toBe(2);
  });

  it('leaves records sendable when the send fails', async () => {
    let failing = true;
    const { ask, answered } = gateAt(10 * 60_000, () => failing);
    await expect(ask(['r1'])).rejects.toThrow('outbox full');
    failing = false;
    await expect(ask(['r1'])).resolves.toBe(1);
    expect(answered.map(refsOf)).toEqual([['r1']]);
  });

  it('samples exactly the references the protocol hash picks, and keeps the rest', () => {
    const { g, book, sent, kept } = gate();
    const policy = { mode: 'sample' as const, rate: 0.5 };
    book.adopt(model, policy);
    const refs = Array.from({ length: 200 }, (_, i) => `img-${i}`);
    refs.forEach((ref, i) => g.route(i + 1, record(Date.now(), ref)));
    const expected = refs.flatMap((ref, i) => (sendsResult(policy, ref, i + 1) ? [i + 1] : []));
    expect(sent).toEqual(expected);
    expect(kept.size).toBe(200 - expected.length);
    expect(expected.length).toBeGreaterThan(60);
    expect(expected.length).toBeLessThan(140);
  });

  it('applies a policy to its release only', () => {
    const { g, book, sent } = gate();
    book.adopt({ ...model, version: '2.0.0' }, { mode: 'aggregates' });
    g.route(1, record(Date.now(), 'a'));
    expect(sent).toEqual([1]);
  });
});

describe('ResultsPolicyBook', () => {
  it('answers a new policy for the same model object after adopting it', () => {
    const book = new ResultsPolicyBook();
    expect(book.policyFor(model)).toEqual({ mode: 'all' });
    book.adopt({ ...model }, { mode: 'aggregates' });
    expect(book.policyFor(model)).toEqual({ mode: 'aggregates' });
    book.adopt(model, undefined);
    expect(book.policyFor(model)).toEqual({ mode: 'all' });
  });

  it('remembers the last eight releases only', () => {
    const book = new ResultsPolicyBook();
    for (let i = 0; i < 9; i++) book.adopt({ ...model, version: `${i}.0.0` }, { mode: 'aggregates' });
    expect(book.policyFor({ ...model, version: '0.0.0' })).toEqual({ mode: 'all' });
    expect(book.policyFor({ ...model, version: '8.0.0' })).toEqual({ mode: 'aggregates' });
  });
});
