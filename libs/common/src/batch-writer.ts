export interface BatchWriterOptions<T> {
  /** Writes one batch; rejects to have the items retried. */
  readonly write: (items: T[]) => Promise<void>;
  /** Flush when this many items wait... */
  readonly maxBatch: number;
  /** ...or this long after the first item arrived. */
  readonly flushMs: number;
  /** Items kept while writes fail; beyond it the oldest are dropped (and reported). */
  readonly maxBuffered?: number;
  readonly onError?: (error: unknown, batchSize: number) => void;
  readonly onDrop?: (count: number) => void;
}

/**
 * Collects items and writes them in batches: one statement per batch instead of one per item.
 * Flushes run one at a time, in arrival order. A failed batch goes back to the front and is retried on
 * the next flush; `close()` writes whatever is left.
 */
export class BatchWriter<T> {
  private buffer: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: BatchWriterOptions<T>) {}

  get pending(): number {
    return this.buffer.length;
  }

  push(...items: T[]): void {
    if (this.closed) throw new Error('BatchWriter is closed');
    this.buffer.push(...items);
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

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.options.maxBatch);
      try {
        await this.options.write(batch);
      } catch (error) {
        this.options.onError?.(error, batch.length);
        this.requeue(batch);
        this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs * 10);
        return;
      }
    }
  }

  private requeue(batch: T[]): void {
    this.buffer = [...batch, ...this.buffer];
    const max = this.options.maxBuffered ?? Number.POSITIVE_INFINITY;
    const excess = this.buffer.length - max;
    if (excess > 0) {
      this.buffer.splice(0, excess);
      this.options.onDrop?.(excess);
    }
  }
}
