import { randomUUID } from 'node:crypto';
import { appendFile, type FileHandle, open, readFile, rename } from 'node:fs/promises';
import { fsyncPath } from '#common';
import { EncodedRecords, resultsMessage } from '#protocol';

interface PendingBatch {
  readonly id: string;
  /** Result records as JSON text (`encodeResultRecord`): encoded once, then spooled and published as is. */
  readonly records: EncodedRecords;
  sentAt: number;
}

const spooledRecord = resultsMessage.shape.records.element;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Result batches on their way to the control plane. Each batch is written to an on-disk spool (JSON
 * lines, fsynced) before it is published, and leaves the spool only when the control plane acknowledges
 * it has stored it; unacknowledged batches are published again (after reconnects and every `resendMs`).
 * A broker PUBACK is not enough: Mosquitto drops messages for shared subscriptions it lost in a restart.
 * Records arrive encoded (JSON text, checked by construction, in one buffer off the V8 heap: a batch
 * waiting for its acknowledgement costs the GC nothing) and are never re-encoded: the spool line and the
 * published message are built from the same bytes. Records carry node-scoped sequence numbers, so a batch stored twice is stored once. The spool is
 * bounded: past `maxRecords` the oldest records are dropped and counted.
 */
export class ResultsOutbox {
  private pending: PendingBatch[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** The spool, open for appends between rewrites (opening and closing it per batch cost more than the write). */
  private spool?: FileHandle;
  /** Records in `pending`, kept as a count (read on every batch and by the status endpoint). */
  private spooled = 0;
  dropped = 0;

  constructor(
    private readonly path: string,
    private readonly maxRecords: number,
    private readonly publish: (id: string, records: EncodedRecords) => Promise<void>,
    private readonly isConnected: () => boolean,
    private readonly resendMs = 5000,
  ) {}

  async open(): Promise<void> {
    this.pending = (await this.readSpool()).map((b) => ({ ...b, sentAt: 0 }));
    this.spooled = this.pending.reduce((n, b) => n + b.records.count, 0);
  }

  get spooledRecords(): number {
    return this.spooled;
  }

  /** Spools a batch durably, then publishes it if connected. */
  send(records: EncodedRecords): Promise<void> {
    return this.exclusive(async () => {
      const batch: PendingBatch = { id: randomUUID(), records, sentAt: 0 };
      this.spool ??= await open(this.path, 'a', 0o600);
      await this.spool.appendFile(spoolLine(batch));
      await this.spool.datasync();
      this.pending.push(batch);
      this.spooled += records.count;
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
      this.spooled = this.pending.reduce((n, b) => n + b.records.count, 0);
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
    // A publish that throws instead of rejecting must not escape into a timer or a connect handler.
    new Promise<void>((resolve) => resolve(this.publish(batch.id, batch.records))).catch(() => {
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
      if (oldest.records.count <= excess) {
        this.pending.shift();
        this.spooled -= oldest.records.count;
        this.dropped += oldest.records.count;
        excess -= oldest.records.count;
      } else {
        this.pending[0] = { ...oldest, records: oldest.records.drop(excess) };
        this.spooled -= excess;
        this.dropped += excess;
        excess = 0;
      }
    }
    await this.rewrite();
  }

  private async rewrite(): Promise<void> {
    const temp = `${this.path}.tmp`;
    await appendFile(temp, Buffer.concat(this.pending.map(spoolLine)), { flag: 'w', mode: 0o600 });
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

  private async readSpool(): Promise<{ id: string; records: EncodedRecords }[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    // A torn last line (power cut during an append) is skipped; so is a line that is not a batch we would
    // send (records are published without a second check, so they are checked against the contract here).
    return text
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        try {
          const batch = JSON.parse(line) as { id?: unknown; records?: unknown };
          if (typeof batch.id !== 'string' || !UUID.test(batch.id) || !Array.isArray(batch.records) || batch.records.length === 0) return [];
          const records = batch.records.map((r) => JSON.stringify(spooledRecord.parse(r)));
          return [{ id: batch.id, records: EncodedRecords.from(records) }];
        } catch {
          return [];
        }
      });
  }
}

/** The spool's line for a batch: the records' own bytes, not re-encoded. */
function spoolLine(batch: { readonly id: string; readonly records: EncodedRecords }): Buffer {
  return Buffer.concat([Buffer.from(`{"id":${JSON.stringify(batch.id)},"records":[`), batch.records.bytes, SPOOL_LINE_END]);
}

const SPOOL_LINE_END = Buffer.from(']}\n');
