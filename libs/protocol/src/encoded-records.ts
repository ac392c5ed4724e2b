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
    /** Bytes this batch alone owns right before and after `bytes` in their buffer (a builder leaves them for `framed`). */
    private room: Room = NO_ROOM,
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
  static of(bytes: Buffer, ends: Uint32Array, room: Room = NO_ROOM): EncodedRecords {
    return new EncodedRecords(bytes, ends, room);
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

  /**
   * `head`, the records, `tail` as one buffer. The first time, where the batch has the room (a builder's
   * batch does), they are written around the records in place: a results message costs no copy of its
   * records, and no fresh buffer, whose first touch of each page costs more than copying into it (~90 µs
   * for 170 KB, against ~2 µs into pages already touched). Later calls copy: the buffer returned before
   * keeps its bytes.
   */
  framed(head: Buffer, tail: Buffer): Buffer {
    if (head.length > this.room.head || tail.length > this.room.tail) return Buffer.concat([head, this.bytes, tail]);
    this.room = NO_ROOM;
    const start = this.bytes.byteOffset - head.length;
    const whole = Buffer.from(this.bytes.buffer, start, head.length + this.bytes.length + tail.length);
    head.copy(whole, 0);
    tail.copy(whole, head.length + this.bytes.length);
    return whole;
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

interface Room {
  readonly head: number;
  readonly tail: number;
}

const NO_ROOM: Room = { head: 0, tail: 0 };
const INITIAL_BYTES = 16 * 1024;
/** Left free before a batch's records for the envelope of its message (`{"v":1,"id":"<uuid>","ts":"…","records":[`)... */
const HEAD_ROOM = 128;
/** ...and after them for its end and a newline (`]}\n`). */
const TAIL_ROOM = 8;

/**
 * A results batch stops growing once its records take this many bytes. One more record (a few KB at
 * most: its `inputRef` escaped, its model's names) still leaves room within the message's 1 MiB for the
 * envelope, and for the topic and MQTT header within the broker's packet bound: a batch the control
 * plane or the broker would refuse would be resent forever.
 */
export const RESULTS_BATCH_BYTES = 960 * 1024;

/**
 * Collects encoded records into one growing buffer; `finish` hands a batch that fills most of it that
 * buffer itself (with room around the records for its message's envelope: `EncodedRecords.framed`) and
 * starts the next batch in a fresh one of the same size, whose pages are first touched as its records
 * are written, a few per thousand records, instead of all at once when a batch is closed. A smaller batch
 * is copied into a buffer of its own size.
 */
export class EncodedRecordsBuilder {
  private buffer?: Buffer;
  private length = 0;
  private readonly ends: number[] = [];
  private capacity = INITIAL_BYTES;

  get count(): number {
    return this.ends.length;
  }

  /** Bytes collected so far. */
  get byteLength(): number {
    return this.length;
  }

  add(text: string): void {
    // At most 3 bytes per UTF-16 unit: room for the text and its comma without measuring it first.
    const needed = HEAD_ROOM + this.length + 1 + 3 * text.length + TAIL_ROOM;
    if (needed > this.capacity) this.capacity = Math.max(needed, 2 * this.capacity);
    const buffer = this.bufferOf(this.capacity);
    if (this.ends.length > 0) buffer[HEAD_ROOM + this.length++] = 0x2c; // ','
    this.length += buffer.write(text, HEAD_ROOM + this.length, 'utf8');
    this.ends.push(this.length);
  }

  finish(): EncodedRecords {
    const buffer = this.buffer;
    if (!buffer) return EncodedRecords.of(Buffer.alloc(0), new Uint32Array(0));
    const used = HEAD_ROOM + this.length + TAIL_ROOM;
    const ends = Uint32Array.from(this.ends);
    let records: EncodedRecords;
    if (2 * used <= buffer.length) {
      // A small batch (a timer's, a spool line read back) gets a buffer of its own size and the builder
      // keeps its own: handing it over would pin the builder's high-water size per batch, hundreds of KB
      // for one record, while batches wait offline (up to resultsBufferMax records of them).
      const own = Buffer.allocUnsafeSlow(used);
      buffer.copy(own, 0, 0, HEAD_ROOM + this.length);
      records = EncodedRecords.of(own.subarray(HEAD_ROOM, HEAD_ROOM + this.length), ends, { head: HEAD_ROOM, tail: TAIL_ROOM });
    } else {
      records = EncodedRecords.of(buffer.subarray(HEAD_ROOM, HEAD_ROOM + this.length), ends, { head: HEAD_ROOM, tail: buffer.length - HEAD_ROOM - this.length });
      this.buffer = undefined; // handed over: the next batch's is allocated at its first record
    }
    // The size the next batch is likely to need: after one batch closed at the byte bound, normal batches
    // would otherwise all be copied (under half of the buffer) instead of handed theirs.
    this.capacity = Math.max(INITIAL_BYTES, Math.min(this.capacity, Math.ceil(1.5 * used)));
    if (this.buffer && this.buffer.length > 2 * this.capacity) this.buffer = undefined;
    this.length = 0;
    this.ends.length = 0;
    return records;
  }

  /** The current buffer, at least `capacity` bytes (grown keeping what it holds). */
  private bufferOf(capacity: number): Buffer {
    if (this.buffer && this.buffer.length >= capacity) return this.buffer;
    const grown = Buffer.allocUnsafeSlow(capacity);
    this.buffer?.copy(grown, 0, 0, HEAD_ROOM + this.length);
    this.buffer = grown;
    return grown;
  }
}
