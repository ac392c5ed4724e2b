import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { appendFile, type FileHandle, open, readFile, rename, truncate } from 'node:fs/promises';
import { fsyncPath } from '#common';
import { EncodedRecords, encodeResultsLine, resultsMessage } from '#protocol';

interface PendingBatch {
  readonly id: string;
  /** Result records as JSON text (`encodeResultRecord`): encoded once, then spooled and published as is. */
  readonly records: EncodedRecords;
  /** The spool's line: the results message and a newline, or only `{id, records}` when the message cannot be encoded (a bug: never published). */
  readonly line: Buffer;
  /** The message published (in `line`). */
  readonly message?: Buffer;
  sentAt: number;
}

const spooledRecord = resultsMessage.shape.records.element;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * Appends with synchronized data (O_DSYNC): a batch is on disk when its write returns, one trip through
 * the thread pool instead of a write and an fdatasync, each of whose completions interrupted the requests
 * served meanwhile.
 */
const SPOOL_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC;

/**
 * Result batches on their way to the control plane. Each batch is written to an on-disk spool (JSON
 * lines, fsynced) before it is published, and leaves the spool only when the control plane acknowledges
 * it has stored it; unacknowledged batches are published again (after reconnects and every `resendMs`).
 * A broker PUBACK is not enough: Mosquitto drops messages for shared subscriptions it lost in a restart.
 * Records arrive encoded (JSON text, checked by construction, in one buffer off the V8 heap: a batch
 * waiting for its acknowledgement costs the GC nothing) and are never re-encoded: the spool's line is the
 * published message and a newline (`encodeResultsLine`), one buffer, resent as it is (the control plane
 * reads no envelope time from results). Records carry node-scoped sequence numbers, so a batch stored
 * twice is stored once. The spool is bounded: past `maxRecords` the oldest records are dropped and counted.
 */
export class ResultsOutbox {
  private pending: PendingBatch[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** The spool, open for appends between rewrites (opening and closing it per batch cost more than the write). */
  private spool?: FileHandle;
  /** The spool's length: a failed append is cut back to it, so the next line never continues a torn one. */
  private spoolBytes = 0;
  /** The spool may end in a torn line that could not be cut off: rewritten from `pending` before the next append. */
  private needsRepair = false;
  /** Records in `pending`, kept as a count (read on every batch and by the status endpoint). */
  private spooled = 0;
  dropped = 0;

  constructor(
    private readonly path: string,
    private readonly maxRecords: number,
    /** Publishes one results message (encoded by `encodeResultsLine`). */
    private readonly publish: (message: Buffer) => Promise<void>,
    private readonly isConnected: () => boolean,
    private readonly resendMs = 5000,
  ) {}

  async open(): Promise<void> {
    const { batches, bytes, whole } = await this.readSpool();
    this.pending = batches.map((b) => pendingBatch(b.id, b.records));
    this.spooled = this.pending.reduce((n, b) => n + b.records.count, 0);
    this.spoolBytes = whole;
    // A torn last line (a power cut during an append) is cut off in place (no free space needed), so the
    // next append starts a line of its own; where that fails (read-only), the next send rewrites the spool.
    // Never fatal: the agent serves whatever its spool holds.
    if (whole < bytes) await truncate(this.path, whole).catch(() => (this.needsRepair = true));
  }

  get spooledRecords(): number {
    return this.spooled;
  }

  /** Spools a batch durably, then publishes it if connected. */
  send(records: EncodedRecords): Promise<void> {
    return this.exclusive(async () => {
      const batch = pendingBatch(randomUUID(), records);
      if (this.needsRepair) await this.rewrite(); // throws (kept by the ring for a retry) until it works
      const spool = this.spool ?? (await this.openSpool());
      await appendAll(spool, batch.line).catch(async (error: unknown) => {
        // A short write (disk full): its part goes, or the spool is rewritten before the next append.
        await spool.truncate(this.spoolBytes).catch(() => (this.needsRepair = true));
        throw error;
      });
      this.spoolBytes += batch.line.length;
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
      // Not synced: a truncation lost to a power cut only sends acknowledged batches again, which the
      // control plane stores once (node-scoped seqs), and the next batch's O_DSYNC write persists it anyway.
      // Its fdatasync held up the requests arriving then (bench/agent-http.ts).
      if (this.pending.length === 0 && this.spool) {
        await this.spool.truncate(0);
        this.spoolBytes = 0;
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
    const { message } = batch;
    if (!message) return;
    // A publish that throws instead of rejecting must not escape into a timer or a connect handler.
    new Promise<void>((resolve) => resolve(this.publish(message))).catch(() => {
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
        this.pending[0] = pendingBatch(oldest.id, oldest.records.drop(excess));
        this.spooled -= excess;
        this.dropped += excess;
        excess = 0;
      }
    }
    await this.rewrite();
  }

  private async rewrite(): Promise<void> {
    const temp = `${this.path}.tmp`;
    const content = Buffer.concat(this.pending.map((b) => b.line));
    await appendFile(temp, content, { flag: 'w', mode: 0o600 });
    await fsyncPath(temp);
    await rename(temp, this.path);
    this.spoolBytes = content.length;
    this.needsRepair = false;
    // The open handle still points at the replaced file: appends go to the new one from now on.
    await this.closeSpool();
  }

  private async openSpool(): Promise<FileHandle> {
    const spool = await open(this.path, SPOOL_FLAGS, 0o600);
    try {
      this.spoolBytes = (await spool.stat()).size;
    } catch (error) {
      await spool.close();
      throw error;
    }
    this.spool = spool;
    return spool;
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

  /** The spool's batches, its length, and the length of its whole lines (up to its last newline). */
  private async readSpool(): Promise<{ batches: { id: string; records: EncodedRecords }[]; bytes: number; whole: number }> {
    let content: Buffer;
    try {
      content = await readFile(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { batches: [], bytes: 0, whole: 0 };
      throw error;
    }
    // A torn last line (power cut during an append) is skipped; so is a line that is not a batch we would
    // send (records are published without a second check, so they are checked against the contract here).
    // An unterminated last line was never durable (its write had not returned): dropped.
    const whole = content.lastIndexOf(0x0a) + 1;
    const lines = content.toString('utf8', 0, whole).split('\n');
    const batches = lines.flatMap((line) => {
      const batch = line ? spooledBatch(line) : undefined;
      return batch ? [batch] : [];
    });
    return { batches, bytes: content.length, whole };
  }
}

/** A spool line as a batch to publish, or undefined when it is not one (torn, foreign, or a record outside the contract). */
function spooledBatch(line: string): { id: string; records: EncodedRecords } | undefined {
  try {
    const batch = JSON.parse(line) as { id?: unknown; records?: unknown };
    if (typeof batch.id !== 'string' || !UUID.test(batch.id) || !Array.isArray(batch.records) || batch.records.length === 0) return undefined;
    const records = batch.records.map((r) => JSON.stringify(spooledRecord.parse(r)));
    return { id: batch.id, records: EncodedRecords.from(records) };
  } catch {
    return undefined;
  }
}

/**
 * A batch with its spool line: the message and a newline, framed around the records in place. A batch the
 * protocol refuses (more records or bytes than a message holds: a bug upstream) is still spooled, as
 * `{id, records}`, which `readSpool` reads the same way, and never published.
 */
function pendingBatch(id: string, records: EncodedRecords): PendingBatch {
  try {
    const line = encodeResultsLine(id, records);
    return { id, records, line, message: line.subarray(0, -1), sentAt: 0 };
  } catch {
    const line = Buffer.concat([Buffer.from(`{"id":${JSON.stringify(id)},"records":[`), records.bytes, Buffer.from(']}\n')]);
    return { id, records, line, sentAt: 0 };
  }
}

/** Writes all of `bytes` at the end of the file (a regular file's write is short only when the disk fills: it then throws on the next). */
async function appendAll(file: FileHandle, bytes: Buffer): Promise<void> {
  for (let written = 0; written < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, written, bytes.length - written);
    if (bytesWritten === 0) throw new Error('the results spool accepted no bytes'); // never spin on a file system that does this
    written += bytesWritten;
  }
}
