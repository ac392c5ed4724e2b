import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { type Job, Queue, Worker } from 'bullmq';
import { settleWithin } from '#common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { RolloutEngine } from './rollout-engine.js';
import { RolloutViewsRepository } from './rollout-views.repository.js';
import type { Redis } from 'ioredis';
import { BullConnections } from '../queues/bull-connections.js';
import { keepJobScheduler } from '../queues/job-scheduler.js';

const QUEUE = 'rollouts';
const SWEEP_EVERY_MS = 5_000;
/** How long an API request waits for Redis to take a tick before answering anyway (the sweep queues it). */
const REQUEST_SCHEDULE_WAIT_MS = 1_000;

interface TickJob {
  readonly rolloutId: string;
  readonly seq: number;
}

/**
 * BullMQ drives rollouts. Each tick is a job whose id names the rollout and its tick count, so adding the
 * same tick twice is a no-op and a redelivered job (BullMQ is at-least-once; a worker killed mid-job gets
 * its job back after the lock expires) is recognised by the engine. A sweep job every few seconds
 * re-adds the due tick of every unfinished rollout, so a chain broken by a crash between commit and
 * enqueue resumes by itself.
 */
@Injectable()
export class RolloutQueue implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RolloutQueue.name);
  private readonly connections: BullConnections;
  private readonly queue: Queue;
  /** The queue's own connection: its `ready` after a reconnect restores the job scheduler. */
  private readonly queueConnection: Redis;
  private worker?: Worker;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rollouts: RolloutViewsRepository,
    private readonly engine: RolloutEngine,
  ) {
    this.connections = new BullConnections(config.redis.url);
    this.queueConnection = this.connections.open();
    this.queue = new Queue(QUEUE, { connection: this.queueConnection, prefix: config.rollouts.queuePrefix });
    this.queue.on('error', (error) => this.logger.warn({ err: String(error) }, 'rollout queue error'));
  }

  async onApplicationBootstrap(): Promise<void> {
    const { rollouts } = this.config;
    if (!rollouts.worker) return;
    this.worker = new Worker(QUEUE, (job: Job) => this.process(job), {
      connection: this.connections.open(),
      prefix: rollouts.queuePrefix,
      concurrency: rollouts.concurrency,
      lockDuration: rollouts.jobLockMs,
      stalledInterval: rollouts.jobLockMs,
      maxStalledCount: 1_000, // a tick is idempotent: retrying it after any number of crashes is safe
    });
    this.worker.on('error', (error) => this.logger.warn({ err: String(error) }, 'rollout worker error'));
    this.worker.on('failed', (job, error) => this.logger.error({ job: job?.id, err: String(error) }, 'rollout job failed'));
    await keepJobScheduler(
      this.queueConnection,
      () => this.queue.upsertJobScheduler('sweep', { every: SWEEP_EVERY_MS }, { name: 'sweep', opts: { removeOnComplete: true, removeOnFail: 100 } }),
      (error) => this.logger.error({ err: error }, 'could not restore the rollout sweep after Redis reconnected; the next reconnect tries again'),
    );
  }

  /**
   * Makes sure the tick a rollout is due for is queued (after `delayMs`). Adding an id that exists is a
   * no-op in BullMQ, so a tick that failed all its attempts (say, the database was away) would block its
   * rollout for good: such a job is retried instead.
   */
  async schedule(rolloutId: string, seq: number, delayMs = 0): Promise<void> {
    const job = await this.queue.add('tick', { rolloutId, seq } satisfies TickJob, {
      jobId: `tick-${rolloutId}-${seq}`,
      delay: delayMs,
      attempts: 5,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 86_400 },
    });
    if (await job.isFailed()) await job.retry('failed');
  }

  /**
   * For an operator's action (start, pause, resume...), already committed: queues the rollout's tick but
   * waits for Redis at most REQUEST_SCHEDULE_WAIT_MS. While Redis is away a BullMQ command waits for it
   * (the connections retry forever, as workers require), and the request hung for the whole outage; the
   * sweep re-queues every unfinished rollout's due tick once Redis answers, so answering is safe.
   */
  async scheduleForRequest(rolloutId: string, seq: number): Promise<void> {
    const outcome = await settleWithin(this.schedule(rolloutId, seq), REQUEST_SCHEDULE_WAIT_MS, (error) =>
      this.logger.warn({ err: error, rolloutId }, 'could not queue the tick of a rollout action; the sweep will'),
    );
    if (outcome === 'late') this.logger.warn({ rolloutId }, 'Redis did not take the tick of a rollout action in time; the sweep queues it once Redis answers');
  }

  private async process(job: Job): Promise<void> {
    if (job.name === 'sweep') return this.sweep();
    const { rolloutId, seq } = job.data as TickJob;
    const result = await this.engine.tick(rolloutId, seq, this.config.rollouts.tickMs);
    if (result?.nextDelayMs !== null && result !== null) await this.schedule(rolloutId, result.seq, result.nextDelayMs);
  }

  private async sweep(): Promise<void> {
    const unfinished = await this.rollouts.withWork();
    for (const rollout of unfinished) await this.schedule(rollout.id, rollout.tickSeq);
  }


  async onModuleDestroy(): Promise<void> {
    const abandoned = await this.connections.closeWithin([
      { name: 'rollout worker', close: async () => this.worker?.close() },
      { name: 'rollout queue', close: async () => this.queue.close() },
    ]);
    // Redis away: the stop goes on without it (a job being run returns to the queue when its lock expires).
    if (abandoned.length > 0) this.logger.warn({ abandoned }, 'Redis did not let these close in time; abandoned them to stop');
  }
}
