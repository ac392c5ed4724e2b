export interface BatchWriterOptions<T> {
  /** Writes one batch; rejects to have the items retried (or, for a data error, isolated). */
  readonly write: (items: T[]) => Promise<void>;
  /** Flush when this many items wait... */
  readonly maxBatch: number;
  /** ...or this long after the first item arrived. */
  readonly flushMs: number;
  /** Items kept while writes fail; beyond it the oldest are dropped (and reported). */
  readonly maxBuffered?: number;
  /**
   * Whether a failed write was refused for its data (some row cannot be stored) rather than for a
   * transient reason: such a batch is split until the rows that cause it are alone, and those are set
   * aside instead of retried. Without it, every failure is retried.
   */
  readonly isDataError?: (error: unknown) => boolean;
  /** A transient failure: the unwritten items go back to the front and are retried. */
  readonly onError?: (error: unknown, batchSize: number) => void;
  /** Items that cannot be written on their own (a data error): dropped, never retried. */
  readonly onPoison?: (items: T[], error: unknown) => void;
  readonly onDrop?: (count: number) => void;
  /** The clock arrival times are read from (tests). */
  readonly now?: () => number;
}

interface Entry<T> {
  readonly item: T;
  /** When it was pushed (ms): the ingest lag is the age of the oldest entry not yet written. */
  readonly at: number;
}

/**
 * Collects items and writes them in batches: one statement per batch instead of one per item.
 * Flushes run one at a time, in arrival order. A batch that fails transiently goes back to the front and
 * is retried on the next flush; one refused for its data is bisected so that one bad item costs about
 * 2·log2(batch) extra writes, and everything else in it is written. `close()` writes whatever is left.
 */
export class BatchWriter<T> {
  private buffer: Entry<T>[] = [];
  /** The batch being written: still unwritten, so it counts in `pending` and `oldestAgeMs`. */
  private inFlight: readonly Entry<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: BatchWriterOptions<T>) {
    this.now = options.now ?? Date.now;
  }

  /** Items not yet written: buffered or being written. */
  get pending(): number {
    return this.buffer.length + this.inFlight.length;
  }

  /** How long the oldest unwritten item has waited (0 when nothing waits). */
  oldestAgeMs(now: number = this.now()): number {
    const oldest = this.inFlight[0]?.at ?? this.buffer[0]?.at;
    return oldest === undefined ? 0 : Math.max(0, now - oldest);
  }

  push(...items: T[]): void {
    if (this.closed) throw new Error('BatchWriter is closed');
    const at = this.now();
    for (const item of items) this.buffer.push({ item, at });
    if (this.buffer.length >= this.options.maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
  }

  /** Writes everything buffered so far; resolves when it is written (or has failed and been re-queued). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.running.then(() => this.drain());
    return this.running;
  }

  /**
   * Takes no more items and tries once to write what is buffered; resolves with how many items are left
   * unwritten (the store is failing). No retry is armed after close: a graceful stop while the database
   * was down used to re-arm the retry timer for good, so the process never exited.
   */
  async close(): Promise<number> {
    this.closed = true;
    await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.pending;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      this.inFlight = this.buffer.splice(0, this.options.maxBatch);
      let unwritten: readonly Entry<T>[];
      try {
        unwritten = await this.writeIsolating(this.inFlight);
      } catch {
        // A callback (isDataError, onError, onPoison) threw: whether the batch was written is unknown, so it is
        // kept and retried. Before, the rejection stayed in the flush chain and no later flush ever ran.
        unwritten = this.inFlight;
      } finally {
        this.inFlight = [];
      }
      if (unwritten.length > 0) {
        this.requeue(unwritten);
        if (!this.closed) this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs * 10);
        return;
      }
    }
  }

  /**
   * Writes `batch`; on a data error, writes each half the same way, so the items that fail alone are
   * set aside and the others written. Returns what a transient error left unwritten (in order), to be
   * retried. The recursion is at most log2(maxBatch) deep.
   */
  private async writeIsolating(batch: readonly Entry<T>[]): Promise<readonly Entry<T>[]> {
    try {
      await this.options.write(batch.map((e) => e.item));
      return [];
    } catch (error) {
      if (!this.options.isDataError?.(error)) {
        this.options.onError?.(error, batch.length);
        return batch;
      }
      if (batch.length === 1) {
        this.options.onPoison?.(batch.map((e) => e.item), error);
        return [];
      }
      const half = Math.ceil(batch.length / 2);
      const left = await this.writeIsolating(batch.slice(0, half));
      if (left.length > 0) return [...left, ...batch.slice(half)];
      return this.writeIsolating(batch.slice(half));
    }
  }

  private requeue(batch: readonly Entry<T>[]): void {
    this.buffer = [...batch, ...this.buffer];
    const max = this.options.maxBuffered ?? Number.POSITIVE_INFINITY;
    const excess = this.buffer.length - max;
    if (excess > 0) {
      this.buffer.splice(0, excess);
      this.options.onDrop?.(excess);
    }
  }
}
