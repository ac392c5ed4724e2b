import { MAX_REQUESTED_RESULTS } from '#protocol';
import type { KeptEntry, KeptResultsFile } from './kept-results-file.js';

export interface KeptResultsLimits {
  /** Results older than this (by their inference time) are forgotten. */
  readonly maxAgeMs: number;
  /** The encoded records held, in UTF-16 code units (≈ bytes: records are ASCII but for inputRef). */
  readonly maxBytes: number;
  /**
   * A record answered to a request is not answered again for this long: the outbox already carries it to
   * the control plane (acknowledged, stored once), so repeated requests cost no re-upload. After it, a
   * record can be sent again (a control plane that lost it). Default one hour.
   */
  readonly resendAfterMs?: number;
}

/** Records a request picked, marked as handed over; `release` unmarks them (the send failed). */
export interface KeptClaim {
  readonly texts: string[];
  release(): void;
}

const DEFAULT_RESEND_AFTER_MS = 3_600_000;

type Kept = KeptEntry;

/** What a request names: input references, or an inference-time range (epoch ms, inclusive). */
export type KeptResultsQuery = { readonly inputRefs: readonly string[] } | { readonly from: number; readonly to: number };

/**
 * Results the node's results policy kept from the control plane, held for a bounded time and size so a
 * feedback join can still ask for them (`results-requests`). Oldest first: past either bound the oldest
 * go (and are counted). Held in memory, mirrored to a file when given one (`KeptResultsFile`, read back
 * by `open`), so a restart keeps them. Lookups by inputRef are a map access; a time range scans what is held.
 */
export class KeptResults {
  private readonly entries: Kept[] = [];
  /** Index of the first live entry: removal from the front is a pointer move, compacted now and then. */
  private head = 0;
  private readonly byRef = new Map<string, Kept[]>();
  private bytes = 0;
  /** When each record was last handed to the results path on request (memory only: a restart forgets). */
  private readonly handedOver = new WeakMap<Kept, number>();
  evicted = 0;

  constructor(
    private readonly limits: KeptResultsLimits,
    private readonly now: () => number = Date.now,
    private readonly file?: KeptResultsFile,
  ) {}

  /** Loads what the file holds (within the bounds as they are now). */
  async open(): Promise<void> {
    for (const entry of (await this.file?.load()) ?? []) this.hold(entry);
    this.evict();
    await this.file?.rewrite(this.live());
  }

  /** Writes what is buffered for the file. */
  close(): Promise<void> {
    return this.file?.flush() ?? Promise.resolve();
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  get heldBytes(): number {
    return this.bytes;
  }

  keep(at: number, inputRef: string | undefined, text: string): void {
    if (text.length > this.limits.maxBytes) return void this.evicted++;
    const entry: Kept = { at, inputRef, text };
    this.hold(entry);
    this.file?.append(entry);
    this.evict();
    if (this.file?.due) void this.file.rewrite(this.live());
  }

  private live(): Kept[] {
    return this.entries.slice(this.head);
  }

  private hold(entry: Kept): void {
    const { inputRef, text } = entry;
    this.entries.push(entry);
    this.bytes += text.length;
    if (inputRef !== undefined) {
      const same = this.byRef.get(inputRef);
      if (same) same.push(entry);
      else this.byRef.set(inputRef, [entry]);
    }
  }

  /** The kept records a request names, at most `MAX_REQUESTED_RESULTS`, the newest when more match. */
  find(query: KeptResultsQuery): string[] {
    return this.matching(query)
      .slice(-MAX_REQUESTED_RESULTS)
      .map((e) => e.text);
  }

  /**
   * As `find`, leaving out records handed over within `resendAfterMs`, and marks those returned as handed
   * over now: marked before the send, so two requests at once do not both send a record.
   */
  claim(query: KeptResultsQuery): KeptClaim {
    const now = this.now();
    const after = this.limits.resendAfterMs ?? DEFAULT_RESEND_AFTER_MS;
    const picked = this.matching(query)
      .filter((e) => now - (this.handedOver.get(e) ?? -Infinity) >= after)
      .slice(-MAX_REQUESTED_RESULTS);
    for (const e of picked) this.handedOver.set(e, now);
    return { texts: picked.map((e) => e.text), release: () => picked.forEach((e) => this.handedOver.delete(e)) };
  }

  /** Every live record a query names, oldest first. */
  private matching(query: KeptResultsQuery): Kept[] {
    this.evict();
    const found: Kept[] = [];
    if ('inputRefs' in query) {
      // One by one, not push(...list): an input reference sent by many requests can hold more records than a
      // call may take arguments (a RangeError past about 100k).
      for (const ref of new Set(query.inputRefs)) for (const e of this.byRef.get(ref) ?? []) found.push(e);
    } else {
      for (let i = this.head; i < this.entries.length; i++) {
        const e = this.entries[i] as Kept;
        if (e.at >= query.from && e.at <= query.to) found.push(e);
      }
    }
    return found.sort((a, b) => a.at - b.at);
  }

  /** Drops from the front while the oldest is too old or the store too large. */
  private evict(): void {
    const oldest = this.now() - this.limits.maxAgeMs;
    while (this.head < this.entries.length) {
      const first = this.entries[this.head] as Kept;
      if (first.at >= oldest && this.bytes <= this.limits.maxBytes) break;
      this.head++;
      this.bytes -= first.text.length;
      this.evicted++;
      this.unindex(first);
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }

  private unindex(entry: Kept): void {
    if (entry.inputRef === undefined) return;
    const same = this.byRef.get(entry.inputRef);
    if (!same) return;
    const i = same.indexOf(entry); // the oldest of its reference: index 0 unless inference times went backwards
    if (i >= 0) same.splice(i, 1);
    if (same.length === 0) this.byRef.delete(entry.inputRef);
  }
}
