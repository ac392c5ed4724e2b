import { Redis } from 'ioredis';
import { settleWithin } from '#common';

/**
 * How long a graceful stop waits for an owner's BullMQ queues and workers to close. Their connections
 * retry forever (BullMQ requires it), so while Redis is away a close waits for it for good and the
 * process never exits; past this bound what is left is abandoned (the connections are cut) instead.
 */
export const BULL_CLOSE_WAIT_MS = 3_000;

/** A queue, worker or scheduler to close at shutdown, named for the log if it has to be abandoned. */
export interface BullCloseable {
  readonly name: string;
  close(): Promise<unknown>;
}

/**
 * The Redis connections of one owner of BullMQ queues and workers. BullMQ wants a connection of its own
 * per Queue and per Worker, with `maxRetriesPerRequest: null`; the owner disconnects them all at shutdown.
 */
export class BullConnections {
  private readonly opened: Redis[] = [];

  constructor(private readonly url: string) {}

  open(): Redis {
    const redis = new Redis(this.url, { maxRetriesPerRequest: null });
    // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
    redis.on('error', () => undefined);
    this.opened.push(redis);
    return redis;
  }

  /**
   * Closes `parts` in order (workers before the queue they take jobs from), waiting at most `waitMs` in
   * all, then disconnects every connection. Answers the names of the parts not closed in time (a worker's
   * running job is then given up: BullMQ hands it to another worker once its lock expires) or that failed
   * to close; the caller logs them.
   */
  async closeWithin(parts: readonly BullCloseable[], waitMs = BULL_CLOSE_WAIT_MS): Promise<string[]> {
    const closed: string[] = [];
    const failed: string[] = [];
    const closing = (async () => {
      for (const part of parts) {
        await part.close().then(
          () => closed.push(part.name),
          () => failed.push(part.name),
        );
      }
    })();
    // Late failures are expected: cutting the connections below rejects what still waits on Redis.
    await settleWithin(closing, waitMs, () => undefined);
    this.disconnectAll();
    return parts.map((p) => p.name).filter((name) => !closed.includes(name));
  }

  disconnectAll(): void {
    for (const redis of this.opened.splice(0)) redis.disconnect();
  }
}
