import { EncodedRecords, EncodedRecordsBuilder, RESULTS_BATCH_BYTES } from '#protocol';
import type { InferenceRecord } from '../api/inference-service.js';

export interface ResultsRingOptions {
  /** Encodes one record as the wire's JSON text (`resultRecord`). */
  readonly encode: (seq: number, record: InferenceRecord) => string;
  /** Writes one batch of encoded records (to the results outbox); rejects to have it retried. */
  readonly write: (records: EncodedRecords) => Promise<void>;
  /** A batch is closed, and written, once it holds this many records... */
  readonly maxBatch: number;
  /** ...or its encoded records take this many bytes (default RESULTS_BATCH_BYTES)... */
  readonly maxBatchBytes?: number;
  /** ...or this long after its first record arrived. */
  readonly flushMs: number;
  /** Records kept while writes fail; beyond it the oldest are dropped (and reported). */
  readonly maxRecords: number;
  /** A batch could not be written (it is kept and written again). */
  readonly onError?: (error: unknown, batchSize: number) => void;
  /** Records outside the contract (a bug here): not sent; reported with their count at most every UNENCODABLE_REPORT_MS. */
  readonly onUnencodable?: (error: unknown, count: number) => void;
  readonly onDrop?: (count: number) => void;
}

/**
 * Served inferences on their way to the results outbox, kept off the request path. A record is encoded
 * to JSON in the turn of the event loop after the one that pushed it (`setImmediate`: after the response
 * has been written), straight into the open batch's buffer off the V8 heap, so its string dies young and
 * a waiting batch costs the GC nothing. Closing a batch then only copies bytes.
 *
 * Why not encode when a batch closes: 1,000 records encoded at once (even a slice per turn) held up the
 * ~15 requests arriving meanwhile, and their strings fed the scavenges there, which set the agent's
 * serving p99 at concurrency 1 (bench/agent-http.ts: half of its slowest 1% came within 20 requests of a
 * batch cut). Spread over the requests, the same work (~2 µs each) lands in the gaps between them.
 *
 * Batches are written one at a time, in order; a failed batch is written again before anything newer (on
 * the next full batch, or after ten times `flushMs`); `close()` writes what is left. A flush writes the
 * records there when it was asked for, and full batches: records arriving while a batch is written wait
 * for `maxBatch` or their own `flushMs`. Draining them as they came made every spool write (append +
 * fdatasync, ~2 ms) start the next one with the few records that arrived meanwhile, a stream of fsyncs,
 * publishes and acknowledgements that competed with the requests for the CPU.
 */
/** Unencodable records are reported at most this often. */
const UNENCODABLE_REPORT_MS = 10_000;

export class ResultsRing {
  /** Records pushed in this turn, encoded in the next (parallel arrays: no object per record). */
  private unencodedSeqs: number[] = [];
  private unencoded: InferenceRecord[] = [];
  private encodeTurn?: NodeJS.Immediate;
  /** The open batch (its buffer kept from batch to batch). */
  private readonly builder = new EncodedRecordsBuilder();
  /** Closed batches waiting to be written, oldest first (a failed one goes back to the front). */
  private readonly closed: EncodedRecords[] = [];
  private closedRecords = 0;
  /** A batch closed since the last drain started: the next turn starts one (a failed batch alone waits for its timer). */
  private closedSinceDrain = false;
  /** A write failed: nothing is tried again before its timer (ten times `flushMs`) or the next full batch. */
  private retryWaiting = false;
  private unencodable?: { error: unknown; count: number };
  private unencodableReportedAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private unreportedDrops = 0;
  private draining = false;

  constructor(private readonly options: ResultsRingOptions) {}

  /** Records not written yet (a batch being written is not counted). */
  get pending(): number {
    return this.unencoded.length + this.builder.count + this.closedRecords;
  }

  push(seq: number, record: InferenceRecord): void {
    if (this.pending >= this.options.maxRecords) this.dropOldest();
    this.unencodedSeqs.push(seq);
    this.unencoded.push(record);
    this.encodeTurn ??= setImmediate(() => {
      this.encodeTurn = undefined;
      this.encodePushed();
      this.afterEncoding();
    });
  }

  /** Writes everything recorded so far; resolves when it is written (or has failed and been kept for a retry). */
  flush(): Promise<void> {
    this.encodePushed();
    this.closeOpenBatch();
    if (this.draining) return this.running; // the drain under way takes these too (it reads `closed` after each write)
    return this.startDrain();
  }

  close(): Promise<void> {
    this.unencodableReportedAt = -Infinity; // what is left is reported now
    return this.flush();
  }

  /** Encodes the records pushed since the last turn into the open batch, closing it whenever it is full. */
  private encodePushed(): void {
    clearImmediate(this.encodeTurn);
    this.encodeTurn = undefined;
    const seqs = this.unencodedSeqs;
    const records = this.unencoded;
    if (records.length === 0) return this.reportUnencodable();
    this.unencodedSeqs = [];
    this.unencoded = [];
    for (let i = 0; i < records.length; i++) {
      try {
        this.builder.add(this.options.encode(seqs[i] as number, records[i] as InferenceRecord));
      } catch (error) {
        this.unencodable ??= { error, count: 0 };
        this.unencodable.count++;
      }
      if (this.builder.count >= this.options.maxBatch || this.builder.byteLength >= (this.options.maxBatchBytes ?? RESULTS_BATCH_BYTES)) this.closeOpenBatch();
    }
    this.reportUnencodable();
  }

  /** Unencodable records since the last report, at most one report per UNENCODABLE_REPORT_MS (a bug could hit every record). */
  private reportUnencodable(): void {
    const now = Date.now();
    if (!this.unencodable || now - this.unencodableReportedAt < UNENCODABLE_REPORT_MS) return;
    this.options.onUnencodable?.(this.unencodable.error, this.unencodable.count);
    this.unencodable = undefined;
    this.unencodableReportedAt = now;
  }

  /** A full batch is written now; a partial one waits, at most `flushMs` after its first record. */
  private afterEncoding(): void {
    if (this.closedSinceDrain && this.closed.length > 0 && !this.draining) void this.startDrain();
    if (this.builder.count > 0 && !this.retryWaiting) this.timer ??= this.flushAfter(this.options.flushMs);
  }

  private closeOpenBatch(): void {
    if (this.builder.count === 0) return;
    const batch = this.builder.finish();
    this.closed.push(batch);
    this.closedRecords += batch.count;
    this.closedSinceDrain = true;
  }

  /** Past `maxRecords` (writes failing): the oldest record goes, reported on the next write rather than per request. */
  private dropOldest(): void {
    this.encodePushed();
    if (this.closed.length === 0) this.closeOpenBatch();
    const oldest = this.closed[0];
    if (!oldest) return;
    if (oldest.count <= 1) this.closed.shift();
    else this.closed[0] = oldest.drop(1);
    this.closedRecords--;
    this.unreportedDrops++;
  }

  private startDrain(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.draining = true;
    this.closedSinceDrain = false;
    this.retryWaiting = false;
    this.running = this.running.then(() => this.drain()).catch(() => undefined);
    return this.running;
  }

  /**
   * Writes the closed batches, oldest first; an open batch waits for its timer. `draining` is cleared in
   * the same turn the loop ends (not in a callback a turn later), so a flush arriving after the last
   * check starts a drain of its own instead of being left to this one.
   */
  private async drain(): Promise<void> {
    try {
      for (let batch = this.takeClosed(); batch; batch = this.takeClosed()) {
        if (this.unreportedDrops > 0) this.options.onDrop?.(this.unreportedDrops);
        this.unreportedDrops = 0;
        try {
          await this.options.write(batch);
        } catch (error) {
          this.closed.unshift(batch); // kept before anything else runs: a throwing onError must not lose it
          this.closedRecords += batch.count;
          // Not sooner: records arriving during the failed write may have armed a flushMs timer, and batches
          // closed meanwhile go with the retry (only one closed after this failure starts a drain earlier).
          this.retryWaiting = true;
          this.closedSinceDrain = false;
          clearTimeout(this.timer);
          this.timer = this.flushAfter(this.options.flushMs * 10);
          this.options.onError?.(error, batch.count);
          return;
        }
      }
    } finally {
      this.draining = false;
    }
    if (this.builder.count > 0) this.timer ??= this.flushAfter(this.options.flushMs);
  }

  private takeClosed(): EncodedRecords | undefined {
    const batch = this.closed.shift();
    if (batch) this.closedRecords -= batch.count;
    return batch;
  }

  /**
   * A flush in `ms`. The timer forgets itself when it fires: a flush during a drain returns early without
   * clearing it, and a stale handle would stop the next batch from arming its own (a rest below
   * `maxBatch` then waited for the next full batch or `close()`).
   */
  private flushAfter(ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }
}
