import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Queue, Worker } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import type { Redis } from 'ioredis';
import { BullConnections } from '../queues/bull-connections.js';
import { keepJobScheduler } from '../queues/job-scheduler.js';
import { RetentionService } from './retention.service.js';
import { HeartbeatRollupsService } from '../telemetry/heartbeat-rollups.service.js';
import { TelemetryPartitionsService } from './telemetry-partitions.service.js';

/**
 * The maintenance queue and its jobs, all repeatable and without payload: `prune` (events, rollups),
 * `telemetry-partitions` (partitions created ahead, old ones dropped), each every RETENTION_INTERVAL_MS,
 * and `heartbeat-rollups` every ROLLUP_INTERVAL_MS (when rollups are on).
 */
export const RETENTION_QUEUE = 'retention';
export const RetentionJob = { prune: 'prune', telemetryPartitions: 'telemetry-partitions', heartbeatRollups: 'heartbeat-rollups' } as const;

/**
 * Runs the maintenance jobs as BullMQ job schedulers: one job of each per interval between all replicas
 * (the scheduler ids are shared), run by a worker replica. Deleting old rows twice, or creating a
 * partition that exists, is harmless, and a rollup run holds the watermark's row lock, so a job BullMQ
 * runs again (a stalled worker) needs no guard.
 */
@Injectable()
export class RetentionQueue implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RetentionQueue.name);
  private readonly connections: BullConnections;
  private readonly queue: Queue;
  /** The queue's own connection: its `ready` after a reconnect restores the job scheduler. */
  private readonly queueConnection: Redis;
  private worker?: Worker;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly retention: RetentionService,
    private readonly partitions: TelemetryPartitionsService,
    private readonly heartbeatRollups: HeartbeatRollupsService,
  ) {
    this.connections = new BullConnections(config.redis.url);
    this.queueConnection = this.connections.open();
    this.queue = new Queue(RETENTION_QUEUE, { connection: this.queueConnection, prefix: config.rollouts.queuePrefix });
    this.queue.on('error', (error) => this.logger.warn({ err: error }, 'retention queue error'));
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.rollouts.worker) return;
    this.worker = new Worker(
      RETENTION_QUEUE,
      async (job) => {
        if (job.name === RetentionJob.prune) return this.retention.prune();
        if (job.name === RetentionJob.telemetryPartitions) return this.partitions.maintain();
        if (job.name === RetentionJob.heartbeatRollups) return this.heartbeatRollups.run();
        throw new Error(`retention: no handler for job ${job.name}`);
      },
      { connection: this.connections.open(), prefix: this.config.rollouts.queuePrefix, concurrency: 1 },
    );
    this.worker.on('error', (error) => this.logger.warn({ err: error }, 'retention worker error'));
    this.worker.on('failed', (_job, error) => this.logger.error({ err: error }, 'retention run failed; the next interval tries again'));
    await keepJobScheduler(
      this.queueConnection,
      () => this.schedule(),
      (error) => this.logger.error({ err: error }, 'could not restore the retention schedule after Redis reconnected; the next reconnect tries again'),
    );
  }

  private schedules(): { name: string; every: number }[] {
    const every = this.config.retention.intervalMs;
    const jobs = [
      { name: RetentionJob.prune, every },
      { name: RetentionJob.telemetryPartitions, every },
    ];
    return this.config.ingest.rollups ? [...jobs, { name: RetentionJob.heartbeatRollups, every: this.config.ingest.rollupIntervalMs }] : jobs;
  }

  /** The schedules this configuration runs, and no other: a scheduler left by a run with rollups on is removed. */
  private async schedule(): Promise<void> {
    const wanted = this.schedules();
    await Promise.all(wanted.map(({ name, every }) => this.queue.upsertJobScheduler(name, { every }, { name, opts: { removeOnComplete: 10, removeOnFail: 10 } })));
    if (!wanted.some((s) => s.name === RetentionJob.heartbeatRollups)) await this.queue.removeJobScheduler(RetentionJob.heartbeatRollups);
  }

  async onModuleDestroy(): Promise<void> {
    const abandoned = await this.connections.closeWithin([
      { name: 'retention worker', close: async () => this.worker?.close() },
      { name: 'retention queue', close: async () => this.queue.close() },
    ]);
    // Redis away: the stop goes on without it (a job being run returns to the queue when its lock expires).
    if (abandoned.length > 0) this.logger.warn({ abandoned }, 'Redis did not let these close in time; abandoned them to stop');
  }
}
