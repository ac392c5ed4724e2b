import type { ServingModel } from '#inference';
import { EncodedRecords, EncodedRecordsBuilder, RESULTS_BATCH_BYTES } from '#protocol';
import type { InferenceRecord } from '../api/inference-service.js';

export interface ResultsRingOptions {
  /** Encodes one record as the wire's JSON text (`resultRecord`). */
  readonly encode: (seq: number, record: InferenceRecord) => string;
  /** Writes one batch of encoded records (to the results outbox); rejects to have it retried. */
  readonly write: (records: EncodedRecords) => Promise<void>;
  /** Flush when this many records wait... */
  readonly maxBatch: number;
  /** A batch is closed once its encoded records take this many bytes (default RESULTS_BATCH_BYTES). */
  readonly maxBatchBytes?: number;
  /** ...or this long after the first one arrived. */
  readonly flushMs: number;
  /** Records kept while writes fail; beyond it the oldest are dropped (and reported). */
  readonly maxRecords: number;
  readonly onError?: (error: unknown, batchSize: number) => void;
  readonly onDrop?: (count: number) => void;
}

const INITIAL_CAPACITY = 1024;
/**
 * Records encoded in one turn of the event loop (~2 µs each): a batch of 500 encoded at once held the
 * loop ~0.8 ms, which a request arriving then waited out. Each turn's strings die in it: the batch grows
 * in a buffer off the V8 heap (EncodedRecordsBuilder).
 */
const ENCODE_SLICE = 64;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Served inferences on their way to the results outbox, kept off the request path: recording one copies
 * its fields into column arrays (allocating nothing), and records are encoded to JSON only when a batch
 * is written. Objects buffered per request would outlive a young-generation GC or two and be promoted,
 * which made the agent's GC cost about twice a bare server's. Batches are written one at a time, in
 * order; a failed batch is retried first on the next flush; `close()` writes what is left.
 *
 * A flush writes the records there when it was asked for, and full batches: records arriving while a
 * batch is written wait for `maxBatch` or their own `flushMs`. Draining them as they came made every
 * spool write (append + fdatasync, ~2 ms) start the next one with the few records that arrived meanwhile:
 * under steady traffic the outbox wrote, fsynced and published a batch of ~24 records every 2–3 ms
 * instead of ~500 every 250 ms (350 batches for 8,400 requests in bench/agent-http), and that stream of
 * fsyncs, publishes and acknowledgements competed with the requests for the CPU.
 */
export class ResultsRing {
  private capacity = INITIAL_CAPACITY;
  private seq = new Float64Array(INITIAL_CAPACITY);
  private at = new Float64Array(INITIAL_CAPACITY);
  private topClass = new Float64Array(INITIAL_CAPACITY);
  private confidence = new Float64Array(INITIAL_CAPACITY);
  private latencyMs = new Float64Array(INITIAL_CAPACITY);
  private model: (ServingModel | undefined)[] = new Array<ServingModel | undefined>(INITIAL_CAPACITY).fill(undefined);
  private inputRef: (string | undefined)[] = new Array<string | undefined>(INITIAL_CAPACITY).fill(undefined);
  private head = 0;
  private size = 0;
  /** How many of the oldest records a flush asked for and the drain has not taken yet. */
  private due = 0;
  /** A batch whose write failed: written before anything newer. */
  private retry?: EncodedRecords;
  /** Where a batch is encoded (its buffer kept from batch to batch). */
  private readonly builder = new EncodedRecordsBuilder();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private unreportedDrops = 0;
  private draining = false;

  constructor(private readonly options: ResultsRingOptions) {}

  get pending(): number {
    return this.size + (this.retry?.count ?? 0);
  }

  push(seq: number, record: InferenceRecord): void {
    if (this.size === this.capacity && !this.grow()) {
      this.head = (this.head + 1) % this.capacity; // full at the bound: the oldest goes
      this.size--;
      this.due = Math.max(0, this.due - 1);
      this.unreportedDrops++; // reported on the next flush, not once per request
    }
    const i = (this.head + this.size) % this.capacity;
    this.seq[i] = seq;
    this.at[i] = record.at;
    this.topClass[i] = record.topClass;
    this.confidence[i] = record.confidence;
    this.latencyMs[i] = record.latencyMs;
    this.model[i] = record.model;
    this.inputRef[i] = record.inputRef;
    this.size++;
    // A drain under way takes full batches as they fill; until one is taken, flushMs after its first record bounds the wait.
    if (this.size >= this.options.maxBatch && !this.draining) void this.startDrain();
    else this.timer ??= this.flushAfter(this.options.flushMs);
  }

  /** Writes everything recorded so far; resolves when it is written (or has failed and been kept for a retry). */
  flush(): Promise<void> {
    this.due = this.size;
    if (this.draining) return this.running; // the drain under way takes these too (it reads `due` after each write)
    return this.startDrain();
  }

  close(): Promise<void> {
    return this.flush();
  }

  private startDrain(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.draining = true;
    this.running = this.running.then(() => this.drain()).catch(() => undefined);
    return this.running;
  }

  /**
   * Writes the failed batch, the records due, and full batches; a rest below `maxBatch` waits for its
   * timer. `draining` is cleared in the same turn the loop ends (not in a callback a turn later), so a
   * flush arriving after the last check starts a drain of its own instead of being left to this one.
   */
  private async drain(): Promise<void> {
    try {
      while (this.retry || this.due > 0 || this.size >= this.options.maxBatch) {
        if (this.unreportedDrops > 0) this.options.onDrop?.(this.unreportedDrops);
        this.unreportedDrops = 0;
        const batch = this.retry ?? (await this.takeBatch(this.options.maxBatch));
        this.retry = undefined;
        if (batch.count === 0) continue;
        try {
          await this.options.write(batch);
        } catch (error) {
          this.options.onError?.(error, batch.count);
          this.retry = batch;
          this.timer ??= this.flushAfter(this.options.flushMs * 10);
          return;
        }
      }
    } finally {
      this.draining = false;
    }
    if (this.size > 0) this.timer ??= this.flushAfter(this.options.flushMs);
  }

  /**
   * A flush in `ms`. The timer forgets itself when it fires: a flush during a drain returns early without
   * clearing it, and a stale handle would stop `push` from arming the next one (a rest below `maxBatch`
   * then waited for the next full batch or `close()`).
   */
  private flushAfter(ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }

  /**
   * Removes and encodes up to `max` of the oldest records, `ENCODE_SLICE` per turn of the event loop,
   * into the builder's buffer: each record's string dies in the turn it was made.
   */
  private async takeBatch(max: number): Promise<EncodedRecords> {
    let left = Math.min(max, this.size);
    for (;;) {
      left -= this.take(Math.min(ENCODE_SLICE, left));
      // Records dropped meanwhile (the ring full at its bound) leave fewer to take, never others.
      left = Math.min(left, this.size);
      if (left <= 0 || this.batchFull()) return this.builder.finish();
      await nextTurn();
    }
  }

  private batchFull(): boolean {
    return this.builder.byteLength >= (this.options.maxBatchBytes ?? RESULTS_BATCH_BYTES);
  }

  /** Removes and encodes up to `max` of the oldest records into the builder; returns how many it removed. */
  private take(max: number): number {
    let count = 0;
    for (; count < max && count < this.size && !this.batchFull(); count++) {
      const i = (this.head + count) % this.capacity;
      const record: InferenceRecord = {
        at: this.at[i] as number,
        model: this.model[i] as ServingModel,
        inputRef: this.inputRef[i],
        topClass: this.topClass[i] as number,
        confidence: this.confidence[i] as number,
        latencyMs: this.latencyMs[i] as number,
      };
      this.model[i] = undefined;
      this.inputRef[i] = undefined;
      try {
        this.builder.add(this.options.encode(this.seq[i] as number, record));
      } catch (error) {
        this.options.onError?.(error, 1); // a record outside the contract is a bug here: it is not sent
      }
    }
    this.head = (this.head + count) % this.capacity;
    this.size -= count;
    this.due = Math.max(0, this.due - count);
    return count;
  }

  /** Doubles the columns (up to `maxRecords`), keeping the records in order from index 0. */
  private grow(): boolean {
    const next = Math.min(this.capacity * 2, Math.max(this.options.maxRecords, 1));
    if (next <= this.capacity) return false;
    const order = (k: number) => (this.head + k) % this.capacity;
    const moveNumbers = (from: Float64Array) => {
      const to = new Float64Array(next);
      for (let k = 0; k < this.size; k++) to[k] = from[order(k)] as number;
      return to;
    };
    const moveRefs = <T>(from: (T | undefined)[]) => {
      const to = new Array<T | undefined>(next).fill(undefined);
      for (let k = 0; k < this.size; k++) to[k] = from[order(k)];
      return to;
    };
    this.seq = moveNumbers(this.seq);
    this.at = moveNumbers(this.at);
    this.topClass = moveNumbers(this.topClass);
    this.confidence = moveNumbers(this.confidence);
    this.latencyMs = moveNumbers(this.latencyMs);
    this.model = moveRefs(this.model);
    this.inputRef = moveRefs(this.inputRef);
    this.head = 0;
    this.capacity = next;
    return true;
  }
}
