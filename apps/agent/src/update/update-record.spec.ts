import { describe, expect, it } from '@jest/globals';
import { INITIAL_RECORD, mergeRecord } from './update-record.js';

describe('mergeRecord: the rollback floors are never written lower', () => {
  const current = { ...INITIAL_RECORD, installed: { m: 4, other: 2 }, newestIssued: 1_000 };

  it('keeps an installed sequence that a change would lower, and raises one that it raises', () => {
    expect(mergeRecord(current, { installed: { m: 2, other: 3 } }).installed).toEqual({ m: 4, other: 3 });
  });

  it('keeps models a change leaves out', () => {
    expect(mergeRecord(current, { installed: { fresh: 1 } }).installed).toEqual({ m: 4, other: 2, fresh: 1 });
  });

  it('never lowers the newest accepted issued time, and raises it', () => {
    expect(mergeRecord(current, { newestIssued: 500 }).newestIssued).toBe(1_000);
    expect(mergeRecord(current, { newestIssued: 2_000 }).newestIssued).toBe(2_000);
    expect(mergeRecord(INITIAL_RECORD, { phase: 'downloading' }).newestIssued).toBeUndefined();
  });

  it('changes everything else as asked', () => {
    expect(mergeRecord(current, { phase: 'downloading', statusSeq: 9 })).toMatchObject({ phase: 'downloading', statusSeq: 9, installed: { m: 4, other: 2 } });
  });
});
