import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { appendFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resultRecord } from '../api/inference-service.js';
import { KeptResults } from './kept-results.js';
import { KeptResultsFile } from './kept-results-file.js';

const HOUR = 3_600_000;
const model = { sha256: 'b'.repeat(64), name: 'digits', version: '1.0.0', variant: 'onnx' };
const text = (seq: number, at: number, inputRef: string) => resultRecord(seq, { at, model, inputRef, topClass: 1, confidence: 0.5, latencyMs: 2 });

describe('kept results on disk', () => {
  let dir: string;
  let path: string;
  const errors: unknown[] = [];
  const open = async (limits: { maxAgeMs: number; maxBytes: number }, now: () => number = Date.now, rewriteAfter = 1_000_000) => {
    const kept = new KeptResults(limits, now, new KeptResultsFile(path, rewriteAfter, (e) => errors.push(e), 10));
    await kept.open();
    return kept;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-kept-'));
    path = join(dir, 'kept-results.jsonl');
    errors.length = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('finds after a restart what it kept before, by inputRef and by time', async () => {
    const now = Date.now();
    const first = await open({ maxAgeMs: HOUR, maxBytes: 1_000_000 });
    first.keep(now - 2000, 'a', text(1, now - 2000, 'a'));
    first.keep(now - 1000, 'b', text(2, now - 1000, 'b'));
    await first.close();
    const second = await open({ maxAgeMs: HOUR, maxBytes: 1_000_000 });
    expect(second.size).toBe(2);
    expect(second.find({ inputRefs: ['b'] }).map((r) => JSON.parse(r) as { seq: number })).toEqual([expect.objectContaining({ seq: 2, inputRef: 'b' })]);
    expect(second.find({ from: now - 2500, to: now - 1500 })).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('skips a torn or foreign line and forgets entries past the age bound at open', async () => {
    const now = Date.now();
    const first = await open({ maxAgeMs: HOUR, maxBytes: 1_000_000 });
    first.keep(now - 2 * HOUR, 'old', text(1, now - 2 * HOUR, 'old'));
    await first.close();
    // Written directly: an entry older than the bound at the next open, a foreign line, a torn last line.
    await appendFile(path, `{"r":${text(2, now - 10, 'new')}}\n{"r":{"seq":"x"}}\n{"r":${text(3, now, 'torn').slice(0, 40)}`);
    const second = await open({ maxAgeMs: HOUR, maxBytes: 1_000_000 });
    expect(second.size).toBe(1);
    expect(second.find({ inputRefs: ['old', 'torn', 'new'] })).toHaveLength(1);
  });

  it('keeps the file near the store bound however much is kept', async () => {
    const maxBytes = 20_000;
    const kept = await open({ maxAgeMs: HOUR, maxBytes }, Date.now, 2 * maxBytes);
    const now = Date.now();
    for (let i = 0; i < 5_000; i++) {
      kept.keep(now + i, `r${i}`, text(i, now + i, `r${i}`));
      if (i % 500 === 0) await kept.close();
    }
    await kept.close();
    expect(kept.heldBytes).toBeLessThanOrEqual(maxBytes);
    // Twice the bound between rewrites, plus the `{"r":…}` framing of each line.
    expect((await stat(path)).size).toBeLessThan(3 * maxBytes + 10_000);
    const reopened = await open({ maxAgeMs: HOUR, maxBytes });
    expect(reopened.size).toBe(kept.size);
    expect(reopened.find({ inputRefs: ['r4999'] })).toHaveLength(1);
  });
});
