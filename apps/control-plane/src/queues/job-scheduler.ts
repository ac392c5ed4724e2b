/** What `keepJobScheduler` needs of a Redis connection: ioredis emits `ready` after every (re)connect. */
export interface ReadyEvents {
  on(event: 'ready', listener: () => void): unknown;
}

/**
 * Upserts a BullMQ job scheduler now, and again every time the queue's connection is ready after a
 * reconnect. A Redis that restarts without persistence (or fails over to a replica that had not received
 * the key yet) comes back without the scheduler, and nothing else adds it back: the rollout sweep that
 * re-queues lost ticks would never run again, and a rollout whose tick was lost would stay `running`
 * forever (measured: test/integration/redis-outage.int.test.ts). Upserting is idempotent, so the extra
 * upsert after the first connect costs one round trip.
 */
export async function keepJobScheduler(connection: ReadyEvents, upsert: () => Promise<unknown>, onError: (error: unknown) => void): Promise<void> {
  connection.on('ready', () => void upsert().catch(onError));
  await upsert();
}
