import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { EventFeed } from '../events/event-feed.js';
import type { Redis } from 'ioredis';
import { BullConnections } from '../queues/bull-connections.js';
import { keepJobScheduler } from '../queues/job-scheduler.js';
import { postWebhook, WebhookDeliveryError } from './webhook-sender.js';
import { signatureHeader } from './webhook-signature.js';
import { WebhooksRepository } from './webhooks.repository.js';

const QUEUE = 'webhooks';

interface DeliveryJob {
  readonly deliveryId: string;
}

/**
 * Webhook deliveries on BullMQ. Each replica's feed triggers a fan-out (events → delivery rows, once
 * between replicas: `WebhooksRepository.fanOut`), then one job per delivery, its id `delivery-<id>`, so
 * adding it twice is a no-op. A job retries with exponential backoff; a delivery already succeeded is not
 * sent again (BullMQ may run a job twice; receivers de-duplicate by the EdgeFleet-Delivery header).
 */
@Injectable()
export class WebhookQueue implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(WebhookQueue.name);
  private readonly connections: BullConnections;
  private readonly queue: Queue;
  /** The queue's own connection: its `ready` after a reconnect restores the job scheduler. */
  private readonly queueConnection: Redis;
  private worker?: Worker;
  private unsubscribe?: () => void;
  private fanning: Promise<void> = Promise.resolve();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: WebhooksRepository,
    private readonly feed: EventFeed,
  ) {
    this.connections = new BullConnections(config.redis.url);
    this.queueConnection = this.connections.open();
    this.queue = new Queue(QUEUE, { connection: this.queueConnection, prefix: config.rollouts.queuePrefix });
    this.queue.on('error', (error) => this.logger.warn({ err: String(error) }, 'webhook queue error'));
  }

  async onApplicationBootstrap(): Promise<void> {
    this.unsubscribe = this.feed.subscribe(() => this.fanOut());
    if (!this.config.rollouts.worker) return;
    this.worker = new Worker(QUEUE, (job: Job) => this.deliver(job), {
      connection: this.connections.open(),
      prefix: this.config.rollouts.queuePrefix,
      concurrency: 8,
    });
    this.worker.on('error', (error) => this.logger.warn({ err: String(error) }, 'webhook worker error'));
    await keepJobScheduler(
      this.queueConnection,
      () => this.queue.upsertJobScheduler('sweep', { every: this.config.webhooks.sweepMs }, { name: 'sweep', opts: { removeOnComplete: true, removeOnFail: 100 } }),
      (error) => this.logger.error({ err: error }, 'could not restore the webhook sweep after Redis reconnected; the next reconnect tries again'),
    );
  }

  /** Serialised per replica: fan-outs queue behind each other instead of contending for the cursor row. */
  private fanOut(): void {
    const upTo = this.feed.watermark;
    this.fanning = this.fanning
      .then(async () => {
        await this.enqueue(await this.repository.fanOut(upTo));
      })
      .catch((error: unknown) => this.logger.error({ err: error }, 'could not fan events out to webhooks'));
  }

  /** One job per delivery; its id makes adding it again (the sweep, another replica) a no-op. */
  private async enqueue(deliveryIds: readonly string[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    const { maxAttempts, backoffMs } = this.config.webhooks;
    await this.queue.addBulk(
      deliveryIds.map((deliveryId) => ({
        name: 'deliver',
        data: { deliveryId } satisfies DeliveryJob,
        opts: {
          jobId: `delivery-${deliveryId}`,
          attempts: maxAttempts,
          backoff: { type: 'exponential', delay: backoffMs },
          removeOnComplete: { age: 86_400, count: 10_000 },
          removeOnFail: { age: 7 * 86_400 },
        },
      })),
    );
  }

  private async deliver(job: Job): Promise<void> {
    // A replica that crashed between the fan-out's commit and `addBulk` left pending deliveries without a job.
    // Re-adding a delivery whose job still exists (say, waiting out its backoff) is a no-op: same job id.
    if (job.name === 'sweep') return this.enqueue(await this.repository.stalePending(this.config.webhooks.sweepMs));
    const { deliveryId } = job.data as DeliveryJob;
    const work = await this.repository.work(deliveryId);
    if (!work || work.delivery.state !== 'pending' || work.webhook.disabledAt) return;
    const body = JSON.stringify(work.event);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'edgefleet-signature': signatureHeader(work.webhook.secret, timestamp, body),
      'edgefleet-event-id': work.event.id,
      'edgefleet-event-type': work.event.type,
      'edgefleet-delivery': deliveryId,
    };
    try {
      const status = await postWebhook(work.webhook.url, body, headers, { timeoutMs: this.config.webhooks.timeoutMs, allowPrivate: this.config.webhooks.allowPrivate });
      await this.repository.succeeded(deliveryId, work.webhook.id, status);
    } catch (error) {
      const failure = error instanceof WebhookDeliveryError ? error : new WebhookDeliveryError('delivery failed', false, null, { cause: error });
      const final = failure.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      await this.repository.failed(deliveryId, work.webhook.id, failure.statusCode, failure.message, final, this.config.webhooks.disableAfterFailures);
      throw failure.permanent ? new UnrecoverableError(failure.message) : failure;
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe?.();
    const abandoned = await this.connections.closeWithin([
      // A fan-out waits on Redis too; the deliveries it could not queue are the sweep's (by their rows).
      { name: 'webhook fan-out', close: () => this.fanning },
      { name: 'webhook worker', close: async () => this.worker?.close() },
      { name: 'webhook queue', close: async () => this.queue.close() },
    ]);
    // Redis away: the stop goes on without it (a job being run returns to the queue when its lock expires).
    if (abandoned.length > 0) this.logger.warn({ abandoned }, 'Redis did not let these close in time; abandoned them to stop');
  }
}
