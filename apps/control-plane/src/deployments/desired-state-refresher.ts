import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Queue, Worker } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { DeploymentsService } from './deployments.service.js';
import { BullConnections } from '../queues/bull-connections.js';

const QUEUE = 'desired-states';
const JOB = 'refresh';

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
  ) {
    this.connections = new BullConnections(config.redis.url);
  }

  async onApplicationBootstrap(): Promise<void> {
    const { rollouts, trust } = this.config;
    if (!rollouts.worker) return;
    this.queue = new Queue(QUEUE, { connection: this.connections.open(), prefix: rollouts.queuePrefix });
    this.queue.on('error', (error) => this.logger.warn({ err: error }, 'desired-state queue error'));
    this.worker = new Worker(QUEUE, () => this.refresh(), { connection: this.connections.open(), prefix: rollouts.queuePrefix, concurrency: 1 });
    this.worker.on('error', (error) => this.logger.warn({ err: error }, 'desired-state worker error'));
    this.worker.on('failed', (job, error) => this.logger.error({ job: job?.id, err: error }, 'desired-state refresh failed; the next run retries'));
    await this.queue.upsertJobScheduler(JOB, { every: trust.desiredStateRefreshMs }, { name: JOB, opts: { removeOnComplete: true, removeOnFail: 100 } });
  }

  /** Re-signs what expires within half a lifetime; one deployment that cannot be re-signed holds up no other. */
  async refresh(): Promise<number> {
    const due = await this.deployments.expiringRetained((this.config.trust.desiredStateTtlSeconds * 1000) / 2);
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
    await this.worker?.close();
    await this.queue?.close();
    this.connections.disconnectAll();
  }
}
