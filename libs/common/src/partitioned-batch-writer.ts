import { BatchWriter, type BatchWriterOptions } from './batch-writer.js';

/** FNV-1a: a cheap, stable spread of keys over partitions. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Several BatchWriters writing at once, each item going to the one its key picks. Items with one key
 * always share a writer, so they are written one batch at a time in arrival order: a node's heartbeats
 * stay in order (the node row's current model and the drift events read "the previous heartbeat"), while
 * different nodes' batches are written in parallel, each on its own connection.
 */
export class PartitionedBatchWriter<T> {
  private readonly writers: BatchWriter<T>[];

  /** `options.maxBuffered` bounds all partitions together (each holds its share). */
  constructor(
    partitions: number,
    private readonly keyOf: (item: T) => string,
    options: BatchWriterOptions<T>,
  ) {
    const n = Math.max(1, Math.floor(partitions));
    const maxBuffered = options.maxBuffered === undefined ? undefined : Math.ceil(options.maxBuffered / n);
    this.writers = Array.from({ length: n }, () => new BatchWriter<T>({ ...options, ...(maxBuffered === undefined ? {} : { maxBuffered }) }));
  }

  get pending(): number {
    return this.writers.reduce((sum, w) => sum + w.pending, 0);
  }

  oldestAgeMs(now?: number): number {
    return Math.max(...this.writers.map((w) => w.oldestAgeMs(now)));
  }

  push(...items: T[]): void {
    for (const item of items) (this.writers[hash(this.keyOf(item)) % this.writers.length] as BatchWriter<T>).push(item);
  }

  async flush(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.flush()));
  }

  /** Closes every partition; resolves with how many items are left unwritten in all of them. */
  async close(): Promise<number> {
    return (await Promise.all(this.writers.map((w) => w.close()))).reduce((sum, n) => sum + n, 0);
  }
}
