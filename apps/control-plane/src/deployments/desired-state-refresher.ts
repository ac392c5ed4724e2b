import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Queue, Worker } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { SigningService } from '../keys/signing.service.js';
import { DeploymentsService } from './deployments.service.js';
import { BullConnections } from '../queues/bull-connections.js';
import { keepJobScheduler } from '../queues/job-scheduler.js';

const QUEUE = 'desired-states';
const JOB = 'refresh';
/** Further ahead than any desired state lives: every retained one is due. */
const RESIGN_ALL_MS = 100 * 365 * 86_400_000;

/**
 * Keeps retained desired states valid for nodes that stay offline longer than their lifetime: a
 * repeating BullMQ job (one scheduler for every replica, so it runs once per period across them)
 * re-signs and re-publishes each node's retained desired state once less than half its lifetime is
 * left. The job is idempotent: running it twice only re-signs again.
 */
@Injectable()
export class DesiredStateRefresher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(DesiredStateRefresher.name);
  private readonly connections: BullConnections;
  private queue?: Queue;
  private worker?: Worker;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deployments: DeploymentsService,
    private readonly signing: SigningService,
  ) {
    this.connections = new BullConnections(config.redis.url);
  }

  async onApplicationBootstrap(): Promise<void> {
    const { rollouts, trust } = this.config;
    if (!rollouts.worker) return;
    // After a rotation or revocation, what nodes hold is signed by keys the new root may no longer
    // accept: sign it all again (after the new root is published: listeners run in order).
    this.signing.onRootChanged(async () => {
      const resigned = await this.refresh(RESIGN_ALL_MS);
      this.logger.log({ resigned }, 're-signed every retained desired state under the new root');
    });
    const queueConnection = this.connections.open();
    const queue = new Queue(QUEUE, { connection: queueConnection, prefix: rollouts.queuePrefix });
    this.queue = queue;
    this.queue.on('error', (error) => this.logger.warn({ err: error }, 'desired-state queue error'));
    this.worker = new Worker(QUEUE, () => this.refresh(), { connection: this.connections.open(), prefix: rollouts.queuePrefix, concurrency: 1 });
    this.worker.on('error', (error) => this.logger.warn({ err: error }, 'desired-state worker error'));
    this.worker.on('failed', (job, error) => this.logger.error({ job: job?.id, err: error }, 'desired-state refresh failed; the next run retries'));
    await keepJobScheduler(
      queueConnection,
      () => queue.upsertJobScheduler(JOB, { every: trust.desiredStateRefreshMs }, { name: JOB, opts: { removeOnComplete: true, removeOnFail: 100 } }),
      (error) => this.logger.error({ err: error }, 'could not restore the desired-state refresh schedule after Redis reconnected; the next reconnect tries again'),
    );
  }

  /**
   * Re-signs what expires within `within` ms (by default half a lifetime); one deployment that cannot
   * be re-signed holds up no other.
   */
  async refresh(within = (this.config.trust.desiredStateTtlSeconds * 1000) / 2): Promise<number> {
    const due = await this.deployments.expiringRetained(within);
    let refreshed = 0;
    for (const [deploymentId, nodeIds] of due) {
      try {
        await this.deployments.republish(deploymentId, nodeIds);
        refreshed += nodeIds.length;
      } catch (error) {
        this.logger.error({ err: error, deploymentId, nodes: nodeIds.length }, 'could not re-sign a retained desired state; the next run tries again');
      }
    }
    if (refreshed > 0) this.logger.log({ refreshed }, 're-signed retained desired states before they expire');
    return refreshed;
  }


  async onModuleDestroy(): Promise<void> {
    const abandoned = await this.connections.closeWithin([
      { name: 'desired-state refresh worker', close: async () => this.worker?.close() },
      { name: 'desired-state refresh queue', close: async () => this.queue?.close() },
    ]);
    // Redis away: the stop goes on without it (a job being run returns to the queue when its lock expires).
    if (abandoned.length > 0) this.logger.warn({ abandoned }, 'Redis did not let these close in time; abandoned them to stop');
  }
}
