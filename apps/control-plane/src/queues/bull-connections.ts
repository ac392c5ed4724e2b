import { Redis } from 'ioredis';

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

  disconnectAll(): void {
    for (const redis of this.opened.splice(0)) redis.disconnect();
  }
}
