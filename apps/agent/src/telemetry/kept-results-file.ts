import { appendFile, readFile } from 'node:fs/promises';
import { resultsMessage } from '#protocol';
import { writeFileAtomic } from '../state/atomic-file.js';

/** One kept result as the store holds it. */
export interface KeptEntry {
  readonly at: number;
  readonly inputRef: string | undefined;
  /** The record as the results message carries it (`encodeResultRecord`). */
  readonly text: string;
}

const record = resultsMessage.shape.records.element;

/**
 * The kept results on disk, so a restart does not forget what the control plane may still ask for:
 * JSON lines appended in batches (every `flushMs`, off the serving path; a crash loses at most that
 * much), rewritten from the live entries once the appends since the last rewrite exceed `rewriteAfter`
 * characters, so the file stays within about twice the store's bound. Lines are checked against the
 * wire contract when read back: a torn or foreign line is skipped, never sent.
 */
export class KeptResultsFile {
  private buffer: string[] = [];
  private appended = 0;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly rewriteAfter: number,
    private readonly onError: (error: unknown) => void,
    private readonly flushMs = 1000,
  ) {}

  /** The entries on disk, oldest first. */
  async load(): Promise<KeptEntry[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    this.appended = text.length;
    return text.split('\n').flatMap((line) => {
      try {
        const parsed = record.parse((JSON.parse(line) as { r?: unknown }).r);
        return [{ at: Date.parse(parsed.ts), inputRef: parsed.inputRef, text: JSON.stringify(parsed) }];
      } catch {
        return [];
      }
    });
  }

  append(entry: KeptEntry): void {
    const line = `{"r":${entry.text}}\n`;
    this.buffer.push(line);
    this.appended += line.length; // counted now, buffered or not: the next rewrite comes in time

    this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  /** Whether the file has grown enough since its last rewrite to be rewritten from the live entries. */
  get due(): boolean {
    return this.appended > this.rewriteAfter;
  }

  /** Replaces the file with these entries (what the store holds now, buffered ones included). */
  rewrite(entries: readonly KeptEntry[]): Promise<void> {
    this.buffer = [];
    const text = entries.map((e) => `{"r":${e.text}}\n`).join('');
    this.appended = text.length;
    return this.exclusive(() => writeFileAtomic(this.path, text));
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return this.queue;
    const text = this.buffer.join('');
    this.buffer = [];
    return this.exclusive(() => appendFile(this.path, text, { mode: 0o600 }));
  }

  private exclusive(work: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(work).catch((error: unknown) => this.onError(error));
    return this.queue;
  }
}
