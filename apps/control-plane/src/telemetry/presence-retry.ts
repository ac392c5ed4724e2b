import type { PresenceMessage } from '#protocol';

export interface PresenceRetryOptions {
  /** Stores a node's presence (the row update and its event). */
  readonly write: (nodeId: string, presence: PresenceMessage) => Promise<void>;
  /** Whether a failed write is worth retrying as is (the database was unreachable). */
  readonly isTransient: (error: unknown) => boolean;
  readonly retryMs: number;
  /** Nodes whose presence may wait at once; beyond it a new one is dropped (reported). */
  readonly maxPending: number;
  readonly onRetryFailed?: (error: unknown, pending: number) => void;
  readonly onDrop?: (nodeId: string) => void;
}

/**
 * Stores presence changes, keeping the latest one per node while the database is unreachable and
 * retrying until it is back. A presence message is acknowledged to the broker once handed here, and an
 * agent sends `offline` once (its will): lost in an outage, the node stayed `online` for good. Presence
 * is state, not a log, so only each node's newest one waits. Writes run one at a time, so an older presence
 * is never written after a newer one. While presences wait (the database was away), a new one joins them
 * at once instead of queueing behind the retry round: the broker hands this replica one message at a time,
 * and a round of thousands of writes must not hold every heartbeat and status behind it.
 */
export class PresenceRetry {
  private readonly pending = new Map<string, PresenceMessage>();
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private retrying = false;

  constructor(private readonly options: PresenceRetryOptions) {}

  /** Nodes whose presence waits for the database. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Resolves once stored or kept for a retry; rejects on a failure retrying would not cure. */
  record(nodeId: string, presence: PresenceMessage): Promise<void> {
    if (this.retrying || this.pending.size > 0) {
      this.keep(nodeId, presence); // the next round writes the newest one
      return Promise.resolve();
    }
    const attempt = this.running.then(async () => {
      this.pending.delete(nodeId); // this one supersedes whatever waited
      try {
        await this.options.write(nodeId, presence);
      } catch (error) {
        if (!this.options.isTransient(error)) throw error;
        this.keep(nodeId, presence);
      }
    });
    this.running = attempt.catch(() => undefined);
    return attempt;
  }

  /** Stops retrying; returns how many nodes' presence was never stored. */
  close(): number {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.pending.size;
  }

  private keep(nodeId: string, presence: PresenceMessage): void {
    if (this.pending.size >= this.options.maxPending) return this.options.onDrop?.(nodeId);
    this.pending.set(nodeId, presence);
    this.arm();
  }

  private arm(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.running.then(() => this.retry());
    }, this.options.retryMs);
    this.timer.unref?.();
  }

  /** One round: each waiting node in turn; the first transient failure ends the round (the database is still away). */
  private async retry(): Promise<void> {
    this.retrying = true;
    try {
      await this.retryWaiting();
    } finally {
      this.retrying = false;
    }
    if (this.pending.size > 0) this.arm();
  }

  private async retryWaiting(): Promise<void> {
    for (const [nodeId, presence] of [...this.pending]) {
      try {
        await this.options.write(nodeId, presence);
        // Only if no newer presence replaced it meanwhile (record() runs after this round, but stay safe).
        if (this.pending.get(nodeId) === presence) this.pending.delete(nodeId);
      } catch (error) {
        if (this.options.isTransient(error)) {
          this.options.onRetryFailed?.(error, this.pending.size);
          break;
        }
        this.pending.delete(nodeId); // refused for good: retrying would not help
        this.options.onRetryFailed?.(error, this.pending.size);
      }
    }
  }
}
