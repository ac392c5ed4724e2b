import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { type Job, Queue, Worker } from 'bullmq';
import { settleWithin } from '#common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { DeploymentTargetsRepository } from './deployment-targets.repository.js';
import { type ArtifactLayout, DistributionService } from './distribution.service.js';
import { BullConnections } from '../queues/bull-connections.js';

const QUEUE = 'distribution';
const BROADCAST_JOB = 'broadcast';
/** Deployments this replica knows to be past their wait; bounded, since it is only a shortcut. */
const STARTED_MEMORY = 10_000;
/** How long an API request waits for Redis to take a broadcast job before answering anyway (as rollout actions do). */
const REQUEST_SCHEDULE_WAIT_MS = 1_000;

export interface BroadcastJob extends ArtifactLayout {
  readonly deploymentId: string;
}

/** One broadcast job per deployment: adding it twice (a repeated deliver) is a no-op. */
export const broadcastJobId = (deploymentId: string): string => `broadcast-${deploymentId}`;

/**
 * When a deployment's chunks are broadcast. A node drops chunks that arrive before its download store is
 * open, and it opens the store before it reports `downloading`; so the broadcast waits for every target
 * to have reported (`downloading` or any later state), or for `BROADCAST_WAIT_MS`, whichever is first.
 *
 * Replicas coordinate through BullMQ and PostgreSQL only: `schedule` adds a delayed job whose id names
 * the deployment (the bounded wait; it survives the crash of the replica that added it); statuses land in
 * `deployment_targets` on whichever replica ingests them, and that replica, once a deployment's targets
 * have all reported, promotes the delayed job so it runs at once. Every replica runs the worker. A job
 * that runs twice (BullMQ is at-least-once) only publishes the chunks twice, which nodes ignore.
 */
@Injectable()
export class BroadcastQueue implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(BroadcastQueue.name);
  private readonly connections: BullConnections;
  private readonly queue: Queue<BroadcastJob>;
  private readonly started = new Set<string>();
  private worker?: Worker<BroadcastJob>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly targets: DeploymentTargetsRepository,
    private readonly distribution: DistributionService,
  ) {
    this.connections = new BullConnections(config.redis.url);
    this.queue = new Queue<BroadcastJob>(QUEUE, { connection: this.connections.open(), prefix: config.rollouts.queuePrefix });
    this.queue.on('error', (error) => this.logger.warn({ err: error }, 'broadcast queue error'));
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker<BroadcastJob>(QUEUE, (job: Job<BroadcastJob>) => this.run(job), {
      connection: this.connections.open(),
      prefix: this.config.rollouts.queuePrefix,
      concurrency: 2,
      maxStalledCount: 100, // publishing a broadcast again is harmless
    });
    this.worker.on('error', (error) => this.logger.warn({ err: error }, 'broadcast worker error'));
    this.worker.on('failed', (job, error) => this.logger.error({ job: job?.id, err: error }, 'broadcast failed'));
  }

  /**
   * Queues a deployment's broadcast to start after `BROADCAST_WAIT_MS` at the latest. Called before the
   * desired states go out, so a status that comes back at once finds the job to promote.
   */
  async schedule(deploymentId: string, layout: ArtifactLayout): Promise<void> {
    await this.queue.add(
      BROADCAST_JOB,
      { deploymentId, sha256: layout.sha256, size: layout.size, chunkSize: layout.chunkSize },
      {
        jobId: broadcastJobId(deploymentId),
        delay: this.config.distribution.broadcastWaitMs,
        attempts: 5,
        backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: { age: 86_400, count: 10_000 },
        removeOnFail: { age: 86_400 },
      },
    );
  }

  /**
   * `schedule` for a request that has already committed its deployment: waits for Redis at most
   * REQUEST_SCHEDULE_WAIT_MS. While Redis is away a BullMQ command waits for it (the connection retries
   * and keeps the command queued), and `POST /v1/deployments` hung for the whole outage; the add goes on
   * in the background and is sent when Redis answers, the job's delay counted from now, so the broadcast
   * starts at once then. Should this replica stop before that, the nodes (which got their desired state
   * over MQTT) ask for the chunks they miss when their download stalls: a repair, not a loss.
   */
  async scheduleForRequest(deploymentId: string, layout: ArtifactLayout): Promise<void> {
    const outcome = await settleWithin(this.schedule(deploymentId, layout), REQUEST_SCHEDULE_WAIT_MS, (error) =>
      this.logger.warn({ err: error, deploymentId }, 'could not queue the broadcast of a deployment; its nodes will ask for repairs'),
    );
    if (outcome === 'late') this.logger.warn({ deploymentId }, 'Redis did not take the broadcast of a deployment in time; it is queued once Redis answers');
  }

  /**
   * Statuses for these deployments were just stored: start the broadcast of each one whose targets have
   * all reported. Safe to call from any replica, any number of times.
   */
  async targetsReported(deploymentIds: readonly string[]): Promise<void> {
    // Redis first: only deployments still in their wait cost a query of their targets.
    const waiting = new Map<string, Job<BroadcastJob>>();
    for (const deploymentId of new Set(deploymentIds)) {
      if (this.started.has(deploymentId)) continue;
      const job = await this.queue.getJob(broadcastJobId(deploymentId));
      if (job && (await job.isDelayed())) waiting.set(deploymentId, job);
      else this.remember(deploymentId); // running, done, or never queued: nothing to start
    }
    if (waiting.size === 0) return;
    for (const deploymentId of await this.targets.allReported([...waiting.keys()])) {
      const job = waiting.get(deploymentId) as Job<BroadcastJob>;
      // Another replica (or the end of the wait) may move it first: then it is no longer delayed.
      await job.promote().catch(async (error: unknown) => {
        if (await job.isDelayed()) throw error;
      });
      this.logger.log({ deploymentId }, 'every target is ready: the broadcast starts');
      this.remember(deploymentId);
    }
  }

  private async run(job: Job<BroadcastJob>): Promise<void> {
    const { deploymentId, ...layout } = job.data;
    this.remember(deploymentId);
    const chunks = await this.distribution.broadcast(layout);
    this.logger.log({ deploymentId, sha256: layout.sha256, chunks }, 'broadcast the artifact');
  }

  private remember(deploymentId: string): void {
    if (this.started.size >= STARTED_MEMORY) this.started.clear();
    this.started.add(deploymentId);
  }


  async onModuleDestroy(): Promise<void> {
    const abandoned = await this.connections.closeWithin([
      { name: 'broadcast worker', close: async () => this.worker?.close() },
      { name: 'broadcast queue', close: async () => this.queue.close() },
    ]);
    // Redis away: the stop goes on without it (a job being run returns to the queue when its lock expires).
    if (abandoned.length > 0) this.logger.warn({ abandoned }, 'Redis did not let these close in time; abandoned them to stop');
  }
}
