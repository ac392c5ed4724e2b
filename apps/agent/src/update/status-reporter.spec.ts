import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateJournal } from './journal.js';
import { MAX_PENDING_STATUSES, StatusReporter } from './status-reporter.js';
import { UpdateRecordFile } from './update-record.js';

/** A reporter on a real journal file; `sent` lists the seqs published, in order. */
async function reporter(dir: string): Promise<{ reporter: StatusReporter; journal: UpdateJournal; sent: number[] }> {
  const journal = new UpdateJournal(dir, 'node-1', () => undefined);
  await journal.load();
  const sent: number[] = [];
  const publish = async (_deploymentId: string, seq: number) => void sent.push(seq);
  return { reporter: new StatusReporter(journal, publish, () => undefined), journal, sent };
}

describe('StatusReporter: every status is re-sent until it is acknowledged by seq', () => {
  const withDir = async (run: (dir: string) => Promise<void>) => {
    const dir = await mkdtemp(join(tmpdir(), 'ef-status-'));
    try {
      await run(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('re-sends an intermediate status an ack of a later seq does not name (a replica lost it in a crash)', () =>
    withDir(async (dir) => {
      const { reporter: r, sent } = await reporter(dir);
      await r.report('d1', 'received');
      await r.report('d1', 'committed');
      r.acknowledged(2);
      sent.length = 0;
      await r.resendUnacked();
      expect(sent).toEqual([1]);
      r.acknowledged(1);
      await r.resendUnacked();
      expect(sent).toEqual([1]);
    }));

  it('with an older control plane (one ack per batch, its highest seq) the others are re-sent until acked on their own', () =>
    withDir(async (dir) => {
      const { reporter: r, sent } = await reporter(dir);
      await r.report('d1', 'received');
      await r.report('d1', 'committed');
      r.acknowledged(2);
      sent.length = 0;
      await r.resendUnacked();
      expect(sent).toEqual([1]);
      r.acknowledged(1);
      await r.resendUnacked();
      expect(sent).toEqual([1]);
    }));

  it('keeps the pending statuses across a restart, drops the acknowledged ones with the next status, and stays bounded', () =>
    withDir(async (dir) => {
      const first = await reporter(dir);
      await first.reporter.report('d1', 'received');
      await first.reporter.report('d1', 'downloading');
      const restarted = await reporter(dir);
      await restarted.reporter.resendUnacked();
      expect(restarted.sent).toEqual([1, 2]);
      restarted.reporter.acknowledged(1);
      await restarted.reporter.report('d1', 'committed');
      expect((await new UpdateRecordFile(dir).load()).pendingStatuses?.map((s) => s.seq)).toEqual([2, 3]);
      for (let i = 0; i < MAX_PENDING_STATUSES + 5; i++) await restarted.reporter.report('d1', 'downloading');
      const pending = (await new UpdateRecordFile(dir).load()).pendingStatuses ?? [];
      expect(pending).toHaveLength(MAX_PENDING_STATUSES);
      expect(pending.at(-1)?.seq).toBe(restarted.journal.record.statusSeq);
    }));

  it('re-sends the one status an older agent’s journal recorded', () =>
    withDir(async (dir) => {
      await new UpdateRecordFile(dir).save({ phase: 'idle', installed: {}, statusSeq: 7, stepStarts: 0, lastStatus: { deploymentId: 'd0', seq: 7, state: 'committed' } });
      const { reporter: r, sent } = await reporter(dir);
      await r.resendUnacked();
      expect(sent).toEqual([7]);
      await r.report('d1', 'received');
      const record = await new UpdateRecordFile(dir).load();
      expect(record.lastStatus).toBeUndefined();
      expect(record.pendingStatuses?.map((s) => s.seq)).toEqual([7, 8]);
    }));
});
