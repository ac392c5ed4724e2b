import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

/**
 * A Redis connection for health checks and small coordination. BullMQ queues (rollouts) open their own
 * connections from the same URL; `maxRetriesPerRequest: null` is what BullMQ workers require.
 */
@Injectable()
export class RedisConnection implements OnModuleDestroy {
  readonly client: Redis;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.client = new Redis(config.redis.url, { maxRetriesPerRequest: null, lazyConnect: false, enableOfflineQueue: false });
    // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
    this.client.on('error', () => undefined);
  }

  async onModuleDestroy(): Promise<void> {
    this.client.disconnect();
  }
}
