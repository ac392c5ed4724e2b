import { Inject, Injectable } from '@nestjs/common';
import type { ChainableCommander } from 'ioredis';
import { UnavailableError } from '#common';
import { APP_CONFIG, type AppConfig, type RepairLimits } from '../config/config.js';
import { RedisConnection } from '../queues/redis.js';
import { TokenBuckets } from '../queues/token-buckets.js';

/**
 * How long a node's repair-byte count for a deployment lives after its first repair. Long enough to span
 * a rollout and a node that comes back days later; a new deployment starts a new count.
 */
const BUDGET_TTL_SECONDS = 7 * 86_400;

/**
 * What each node has been sent by repair, shared by every replica through Redis: a request token bucket
 * per node, a short-lived mark per (node, artifact, chunk) sent or being sent, and repair bytes per
 * (node, deployment). Keys are under the installation's queue prefix; every one of them expires.
 */
@Injectable()
export class RepairLedger {
  private readonly limits: RepairLimits;
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisConnection,
    private readonly buckets: TokenBuckets,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.limits = config.distribution.repair;
    this.prefix = `${config.rollouts.queuePrefix}:repair`;
  }

  /** Spends one of the node's request tokens; false when it has none left. */
  async takeRequestToken(nodeId: string): Promise<boolean> {
    const { requestBurst, requestsPerMinute } = this.limits;
    return (await this.buckets.take(`${this.prefix}:bucket:${nodeId}`, { burst: requestBurst, perMinute: requestsPerMinute })) === 0;
  }

  /**
   * Marks the chunks as being sent to the node, and returns those that were not already: a chunk claimed
   * by a concurrent request (on any replica) or sent within the resend window is left out. Each mark is
   * its own key set with NX, so two requests racing for one chunk cannot both win it.
   */
  async claimChunks(nodeId: string, sha256: string, indices: readonly number[]): Promise<number[]> {
    const results = await this.pipeline(indices, (p, i) => p.set(this.chunkKey(nodeId, sha256, i), '1', 'PX', this.limits.resendWindowMs, 'NX'));
    return indices.filter((_, n) => results[n] === 'OK');
  }

  /** The chunks went out: the resend window starts again from now, so a long answer is not re-sent while it is in flight. */
  async holdChunks(nodeId: string, sha256: string, indices: readonly number[]): Promise<void> {
    await this.pipeline(indices, (p, i) => p.set(this.chunkKey(nodeId, sha256, i), '1', 'PX', this.limits.resendWindowMs));
  }

  /** Claimed, but not sent (over the budget): another request may have them once there is budget. */
  async releaseChunks(nodeId: string, sha256: string, indices: readonly number[]): Promise<void> {
    await this.pipeline(indices, (p, i) => p.del(this.chunkKey(nodeId, sha256, i)));
  }

  /**
   * Adds `bytes` to the node's repair bytes for the deployment and returns what was counted before.
   * Concurrent reservations each see the others' bytes as already used, so together they never pass the
   * budget; whoever gets less than asked gives the difference back with `returnBytes`.
   */
  async reserveBytes(nodeId: string, deploymentId: string, bytes: number): Promise<number> {
    const key = this.budgetKey(nodeId, deploymentId);
    const [after] = await this.transaction((m) => m.incrby(key, bytes).expire(key, BUDGET_TTL_SECONDS, 'NX'));
    return Number(after) - bytes;
  }

  async returnBytes(nodeId: string, deploymentId: string, bytes: number): Promise<void> {
    if (bytes > 0) await this.call(() => this.redis.client.decrby(this.budgetKey(nodeId, deploymentId), bytes));
  }

  private chunkKey(nodeId: string, sha256: string, index: number): string {
    return `${this.prefix}:sent:${nodeId}:${sha256}:${index}`;
  }

  private budgetKey(nodeId: string, deploymentId: string): string {
    return `${this.prefix}:bytes:${nodeId}:${deploymentId}`;
  }

  private async pipeline(indices: readonly number[], add: (p: ChainableCommander, index: number) => void): Promise<unknown[]> {
    if (indices.length === 0) return [];
    return this.transaction((p) => {
      for (const i of indices) add(p, i);
      return p;
    }, false);
  }

  /** Runs commands in one round trip (MULTI/EXEC when `atomic`); any failed command fails the whole call. */
  private async transaction(build: (p: ChainableCommander) => ChainableCommander, atomic = true): Promise<unknown[]> {
    const replies = await this.call(() => build(atomic ? this.redis.client.multi() : this.redis.client.pipeline()).exec());
    if (!replies) throw new UnavailableError('repair ledger: Redis discarded the transaction');
    return replies.map(([error, value]) => {
      if (error) throw new UnavailableError('repair ledger: a Redis command failed', { cause: error });
      return value;
    });
  }

  /** Without Redis no repair is answered: limits that cannot be checked are not skipped. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      throw new UnavailableError('repair ledger: Redis unavailable', { cause: error });
    }
  }
}
