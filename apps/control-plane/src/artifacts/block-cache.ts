/**
 * A bounded least-recently-used cache of fixed-size blocks of immutable blobs, sharing one fetch per
 * block between concurrent readers. Artifacts are content-addressed and never change, so a cached block
 * is never stale. The S3 driver reads chunks through it: a broadcast's 16 concurrent chunk reads and
 * many nodes repairing the same chunks become one ranged GET per block instead of one per chunk.
 */
export class BlockCache {
  private readonly blocks = new Map<string, Buffer>();
  private readonly inFlight = new Map<string, Promise<Buffer>>();
  private cachedBytes = 0;
  /** Fetches made (for tests and the bench). */
  fetches = 0;

  constructor(
    readonly blockBytes: number,
    private readonly maxBytes: number,
  ) {
    if (!(blockBytes > 0 && maxBytes >= 0)) throw new RangeError('block size must be positive and the cache bound not negative');
  }

  /**
   * `length` bytes at `offset` of the blob `id` of `size` bytes; `fetch(start, endExclusive)` reads a
   * block from the source. The range must lie within the blob.
   */
  async read(id: string, size: number, offset: number, length: number, fetch: (start: number, end: number) => Promise<Buffer>): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > size) throw new RangeError(`range ${offset}+${length} outside a blob of ${size} bytes`);
    if (length === 0) return Buffer.alloc(0);
    const first = Math.floor(offset / this.blockBytes);
    const last = Math.floor((offset + length - 1) / this.blockBytes);
    const parts: Buffer[] = [];
    for (let index = first; index <= last; index++) {
      const start = index * this.blockBytes;
      const block = await this.block(id, index, () => fetch(start, Math.min(start + this.blockBytes, size)));
      const from = Math.max(offset - start, 0);
      const to = Math.min(offset + length - start, block.length);
      parts.push(block.subarray(from, to));
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  private block(id: string, index: number, fetch: () => Promise<Buffer>): Promise<Buffer> {
    const key = `${id}:${index}`;
    const cached = this.blocks.get(key);
    if (cached) {
      // Re-inserted: Map order is the recency order, oldest first.
      this.blocks.delete(key);
      this.blocks.set(key, cached);
      return Promise.resolve(cached);
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    this.fetches++;
    const fetched = fetch()
      .then((block) => {
        this.remember(key, block);
        return block;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, fetched);
    return fetched;
  }

  private remember(key: string, block: Buffer): void {
    if (block.length > this.maxBytes) return;
    this.blocks.set(key, block);
    this.cachedBytes += block.length;
    for (const [oldest, evicted] of this.blocks) {
      if (this.cachedBytes <= this.maxBytes) break;
      this.blocks.delete(oldest);
      this.cachedBytes -= evicted.length;
    }
  }

  get sizeBytes(): number {
    return this.cachedBytes;
  }
}
