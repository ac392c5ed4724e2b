/**
 * Result records already encoded as the wire's JSON texts (`encodeResultRecord`), held as one buffer: the
 * texts joined by commas, which is what goes between the brackets of a results message's `records`, with
 * where each record ends. An agent's batch lives from its encoding until the control plane acknowledges
 * it, tens to hundreds of milliseconds: as an array of strings (plus the joined copies for the spool and
 * the message) it survived young-generation GCs and was copied by each, which made the agent's scavenges
 * cost twice a bare server's and set its p99 (bench/agent-http.ts). A Buffer's bytes live outside the V8
 * heap: a waiting batch costs the GC nothing.
 */
export class EncodedRecords {
  private constructor(
    /** The records' JSON texts joined by commas (UTF-8). */
    readonly bytes: Buffer,
    /** Byte offset just past each record. */
    private readonly ends: Uint32Array,
  ) {}

  static from(texts: readonly string[]): EncodedRecords {
    const builder = new EncodedRecordsBuilder();
    for (const text of texts) builder.add(text);
    return builder.finish();
  }

  /** `texts` in order, as batches of at most `maxCount` records, each closed once it reaches `maxBytes`. */
  static batches(texts: readonly string[], maxCount: number, maxBytes = RESULTS_BATCH_BYTES): EncodedRecords[] {
    const builder = new EncodedRecordsBuilder();
    const batches: EncodedRecords[] = [];
    for (const text of texts) {
      builder.add(text);
      if (builder.count >= maxCount || builder.byteLength >= maxBytes) batches.push(builder.finish());
    }
    if (builder.count > 0) batches.push(builder.finish());
    return batches;
  }

  /** @internal The builder's result. */
  static of(bytes: Buffer, ends: Uint32Array): EncodedRecords {
    return new EncodedRecords(bytes, ends);
  }

  get count(): number {
    return this.ends.length;
  }

  /** The records after the first `n` (sharing these bytes). */
  drop(n: number): EncodedRecords {
    if (n <= 0) return this;
    if (n >= this.count) return EncodedRecords.of(Buffer.alloc(0), new Uint32Array(0));
    const start = (this.ends[n - 1] as number) + 1; // past the comma
    return EncodedRecords.of(
      this.bytes.subarray(start),
      this.ends.subarray(n).map((end) => end - start),
    );
  }

  /** Each record's text (tests, and the rare paths that need them one by one). */
  texts(): string[] {
    const texts: string[] = [];
    let start = 0;
    for (const end of this.ends) {
      texts.push(this.bytes.toString('utf8', start, end));
      start = end + 1;
    }
    return texts;
  }
}

const INITIAL_BYTES = 16 * 1024;

/**
 * A results batch stops growing once its records take this many bytes. One more record (a few KB at
 * most: its `inputRef` escaped, its model's names) still leaves room within the message's 1 MiB for the
 * envelope, and for the topic and MQTT header within the broker's packet bound: a batch the control
 * plane or the broker would refuse would be resent forever.
 */
export const RESULTS_BATCH_BYTES = 960 * 1024;

/**
 * Collects encoded records into one growing buffer; `finish` hands out an exactly sized copy and starts
 * over, so one builder (and its buffer) serves batch after batch.
 */
export class EncodedRecordsBuilder {
  private buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private length = 0;
  private readonly ends: number[] = [];

  get count(): number {
    return this.ends.length;
  }

  /** Bytes collected so far. */
  get byteLength(): number {
    return this.length;
  }

  add(text: string): void {
    // At most 3 bytes per UTF-16 unit: room for the text and its comma without measuring it first.
    const room = this.length + 1 + 3 * text.length;
    if (room > this.buffer.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(room, 2 * this.buffer.length));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    if (this.ends.length > 0) this.buffer[this.length++] = 0x2c; // ','
    this.length += this.buffer.write(text, this.length, 'utf8');
    this.ends.push(this.length);
  }

  finish(): EncodedRecords {
    const bytes = Buffer.allocUnsafeSlow(this.length);
    this.buffer.copy(bytes, 0, 0, this.length);
    const records = EncodedRecords.of(bytes, Uint32Array.from(this.ends));
    this.length = 0;
    this.ends.length = 0;
    return records;
  }
}
