import { randomUUID } from 'node:crypto';
import { appendFile, type FileHandle, open, readFile, rename } from 'node:fs/promises';
import { fsyncPath } from '#common';
import type { ResultsMessage } from '#protocol';

type ResultRecord = ResultsMessage['records'][number];

interface PendingBatch {
  readonly id: string;
  readonly records: ResultRecord[];
  sentAt: number;
}

/**
 * Result batches on their way to the control plane. Each batch is written to an on-disk spool (JSON
 * lines, fsynced) before it is published, and leaves the spool only when the control plane acknowledges
 * it has stored it; unacknowledged batches are published again (after reconnects and every `resendMs`).
 * A broker PUBACK is not enough: Mosquitto drops messages for shared subscriptions it lost in a restart.
 * Records carry node-scoped sequence numbers, so a batch stored twice is stored once. The spool is
 * bounded: past `maxRecords` the oldest records are dropped and counted.
 */
export class ResultsOutbox {
  private pending: PendingBatch[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** The spool, open for appends between rewrites (opening and closing it per batch cost more than the write). */
  private spool?: FileHandle;
  dropped = 0;

  constructor(
    private readonly path: string,
    private readonly maxRecords: number,
    private readonly publish: (id: string, records: ResultRecord[]) => Promise<void>,
    private readonly isConnected: () => boolean,
    private readonly resendMs = 5000,
  ) {}

  async open(): Promise<void> {
    this.pending = (await this.readSpool()).map((b) => ({ ...b, sentAt: 0 }));
  }

  get spooledRecords(): number {
    return this.pending.reduce((n, b) => n + b.records.length, 0);
  }

  /** Spools a batch durably, then publishes it if connected. */
  send(records: ResultRecord[]): Promise<void> {
    return this.exclusive(async () => {
      const batch: PendingBatch = { id: randomUUID(), records, sentAt: 0 };
      this.spool ??= await open(this.path, 'a', 0o600);
      await this.spool.appendFile(`${JSON.stringify({ id: batch.id, records })}\n`);
      await this.spool.datasync();
      this.pending.push(batch);
      if (this.spooledRecords > this.maxRecords) await this.trimOldest();
      this.publishBatch(batch);
    });
  }

  /** The control plane stored these batches: forget them. */
  acknowledge(ids: readonly string[]): Promise<void> {
    return this.exclusive(async () => {
      const acked = new Set(ids);
      const before = this.pending.length;
      this.pending = this.pending.filter((b) => !acked.has(b.id));
      if (this.pending.length === before) return;
      // The usual case once the control plane keeps up: nothing left, so empty the open spool in place.
      if (this.pending.length === 0 && this.spool) {
        await this.spool.truncate(0);
        await this.spool.datasync();
        return;
      }
      await this.rewrite();
    });
  }

  /** Publishes every batch not acknowledged within `resendMs` (all of them with `force`, e.g. after a reconnect). */
  resend(force = false): void {
    const now = Date.now();
    for (const batch of this.pending) if (force || now - batch.sentAt >= this.resendMs) this.publishBatch(batch);
  }

  private publishBatch(batch: PendingBatch): void {
    if (!this.isConnected()) return;
    batch.sentAt = Date.now();
    this.publish(batch.id, batch.records).catch(() => {
      batch.sentAt = 0; // resent on the next pass
    });
  }

  private exclusive(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async trimOldest(): Promise<void> {
    let excess = this.spooledRecords - this.maxRecords;
    while (excess > 0 && this.pending.length > 1) {
      const oldest = this.pending[0] as PendingBatch;
      if (oldest.records.length <= excess) {
        this.pending.shift();
        this.dropped += oldest.records.length;
        excess -= oldest.records.length;
      } else {
        this.pending[0] = { ...oldest, records: oldest.records.slice(excess) };
        this.dropped += excess;
        excess = 0;
      }
    }
    await this.rewrite();
  }

  private async rewrite(): Promise<void> {
    const temp = `${this.path}.tmp`;
    await appendFile(temp, this.pending.map((b) => `${JSON.stringify({ id: b.id, records: b.records })}\n`).join(''), { flag: 'w', mode: 0o600 });
    await fsyncPath(temp);
    await rename(temp, this.path);
    // The open handle still points at the replaced file: appends go to the new one from now on.
    await this.closeSpool();
  }

  /** Closes the spool file (it is reopened on the next batch). */
  close(): Promise<void> {
    return this.exclusive(() => this.closeSpool());
  }

  private async closeSpool(): Promise<void> {
    const spool = this.spool;
    this.spool = undefined;
    await spool?.close();
  }

  private async readSpool(): Promise<{ id: string; records: ResultRecord[] }[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    // A torn last line (power cut during an append) is skipped.
    return text
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as { id: string; records: ResultRecord[] }];
        } catch {
          return [];
        }
      });
  }
}
