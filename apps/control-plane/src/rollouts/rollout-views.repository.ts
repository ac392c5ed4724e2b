import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, In } from 'typeorm';
import type { ShadowDecision } from '#protocol';
import { Deployment } from '../deployments/deployment.entity.js';
import { RolloutEvent } from './rollout-event.entity.js';
import { RolloutNode } from './rollout-node.entity.js';
import { Rollout, type RolloutState } from './rollout.entity.js';
import { ROLLOUT_STOPPED, type WaveShadowVerdict } from './wave-shadow-view.js';

export interface RolloutNodeProgress {
  readonly nodeId: string;
  readonly nodeName: string;
  readonly wave: number;
  readonly modelVersionId: string;
  readonly previousModelVersionId: string | null;
  readonly state: RolloutNode['state'];
  readonly attempts: number;
  readonly deploymentId: string | null;
  readonly reason: string | null;
  /** The deployment state the node last reported (downloading, self-tested, committed, ...). */
  readonly phase: string | null;
  readonly progress: number | null;
  readonly failureReason: string | null;
  readonly failureDetail: string | null;
  /** Where the node is in the shadow evaluation: see RolloutNodeDto.shadow. */
  readonly shadow: NodeShadowStage | null;
  readonly updatedAt: Date;
}

/** `shadowing`: self-tested, running the candidate beside the serving model, undecided; else the decision signed to the node. */
export type NodeShadowStage = 'shadowing' | ShadowDecision;

/**
 * Rollout statements outside a tick's transaction: what the API shows, what the sweep and the publisher
 * after a commit read (the tick's own statements, under the row lock, are in rollout.repository.ts).
 */
@Injectable()
export class RolloutViewsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  findById(id: string): Promise<Rollout | null> {
    return this.db.getRepository(Rollout).findOneBy({ id });
  }

  exists(id: string): Promise<boolean> {
    return this.db.getRepository(Rollout).existsBy({ id });
  }

  /** Newest first, keyset-paginated: `after` is the last rollout of the previous page (it must exist). */
  list(limit: number, state?: RolloutState, after?: string): Promise<Rollout[]> {
    const qb = this.db.getRepository(Rollout).createQueryBuilder('r').orderBy('r.created_at', 'DESC').addOrderBy('r.id', 'DESC').take(limit);
    if (state) qb.andWhere('r.state = :state', { state });
    // Compared in SQL: timestamptz has microseconds, a JS Date only milliseconds.
    if (after) qb.andWhere('(r.created_at, r.id) < (SELECT a.created_at, a.id FROM rollouts a WHERE a.id = :after)', { after });
    return qb.getMany();
  }

  /** Node counts by wave (0-based) and state. */
  nodeStates(id: string): Promise<{ wave: number; state: string; n: number }[]> {
    return this.db.query(`SELECT wave, state, count(*)::int AS n FROM rollout_nodes WHERE rollout_id = $1 GROUP BY wave, state ORDER BY wave`, [id]) as Promise<
      { wave: number; state: string; n: number }[]
    >;
  }

  /** The rollout's history, oldest first, at most 1,000 rows. */
  events(id: string): Promise<RolloutEvent[]> {
    return this.db.getRepository(RolloutEvent).find({ where: { rolloutId: id }, order: { id: 'ASC' }, take: 1000 });
  }

  /**
   * The last gate verdict of each wave (0-based) from its `shadow-verdict` events: the decision its nodes
   * were sent. Abandons because the rollout stopped (`cause: stopped`; before that field, the reason
   * ROLLOUT_STOPPED) are not verdicts about the candidate. Read apart from `events`, which stops at 1,000.
   */
  async shadowVerdicts(id: string): Promise<Map<number, WaveShadowVerdict>> {
    const rows = (await this.db.query(
      `SELECT DISTINCT ON ((detail->>'wave')::int) (detail->>'wave')::int - 1 AS wave, detail->>'verdict' AS verdict, detail->>'reason' AS reason
         FROM rollout_events
        WHERE rollout_id = $1 AND kind = 'shadow-verdict' AND detail->>'verdict' IN ('pass', 'fail') AND jsonb_typeof(detail->'wave') = 'number'
          AND coalesce(detail->>'cause', '') <> 'stopped' AND coalesce(detail->>'reason', '') <> $2
        ORDER BY (detail->>'wave')::int, id DESC`,
      [id, ROLLOUT_STOPPED],
    )) as { wave: number; verdict: 'pass' | 'fail'; reason: string | null }[];
    return new Map(rows.map(({ wave, verdict, reason }) => [wave, { verdict, reason }]));
  }

  /** Per-node progress with each node's reported phase and failure detail, keyset-paginated by node id. */
  async nodeProgress(id: string, limit: number, after?: string): Promise<RolloutNodeProgress[]> {
    return (await this.db.query(
      `SELECT rn.node_id AS "nodeId", n.name AS "nodeName", rn.wave, rn.model_version_id AS "modelVersionId",
              rn.previous_model_version_id AS "previousModelVersionId", rn.state, rn.attempts, rn.deployment_id AS "deploymentId",
              rn.reason, dt.state AS phase, dt.progress, f.reason AS "failureReason", f.detail AS "failureDetail",
              -- A node reports no state of its own while it shadows: it stays 'self-tested' until a decision.
              CASE WHEN d.shadow IS NULL THEN NULL WHEN dt.shadow_decision IS NOT NULL THEN dt.shadow_decision
                   WHEN dt.state = 'self-tested' THEN 'shadowing' END AS shadow,
              GREATEST(rn.updated_at, dt.updated_at) AS "updatedAt"
         FROM rollout_nodes rn JOIN nodes n ON n.id = rn.node_id
         LEFT JOIN deployments d ON d.id = rn.deployment_id
         LEFT JOIN deployment_targets dt ON dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id
         -- The node's latest failure in this rollout, while it matters: still failed, waiting for a retry,
         -- or sent back by a rollback (whose own deployment is what 'phase' shows).
         LEFT JOIN LATERAL (
           SELECT ft.reason, ft.detail FROM deployment_targets ft JOIN deployments fd ON fd.id = ft.deployment_id
            WHERE fd.rollout_id = rn.rollout_id AND ft.node_id = rn.node_id AND ft.state IN ('failed', 'rolled-back', 'rejected')
            ORDER BY fd.created_at DESC LIMIT 1) f ON rn.state IN ('failed', 'retry-wait', 'reverting', 'reverted', 'revert-failed')
        WHERE rn.rollout_id = $1 AND ($2::uuid IS NULL OR rn.node_id > $2::uuid)
        ORDER BY rn.node_id LIMIT $3`,
      [id, after ?? null, limit],
    )) as RolloutNodeProgress[];
  }

  /** Rollouts that may still have work for a tick (the sweep re-queues them). */
  async withWork(): Promise<Pick<Rollout, 'id' | 'tickSeq'>[]> {
    return (await this.db.query(
      `SELECT id, tick_seq AS "tickSeq" FROM rollouts r
        WHERE state IN ('scheduled', 'running')
           -- A stopped rollout still has work: reverts to follow, or a shadow's abandon to publish and fold in.
           OR (state IN ('halted', 'aborted', 'completed')
               AND EXISTS (SELECT 1 FROM rollout_nodes rn LEFT JOIN deployment_targets dt ON dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id
                            WHERE rn.rollout_id = r.id
                              AND (rn.state = 'reverting' OR (rn.state = 'dispatched' AND (NOT rn.published OR dt.shadow_decision = 'abandon'))
                                   OR (NOT rn.published AND dt.shadow_decision = 'abandon'))))`,
    )) as Pick<Rollout, 'id' | 'tickSeq'>[];
  }

  /** Desired states recorded but not yet sent (a tick's, or a crashed worker's). */
  async unpublished(rolloutId: string): Promise<{ nodeId: string; deploymentId: string }[]> {
    // Nodes that timed out while shadowing are no longer dispatched, yet their abandon must still go out.
    return (await this.db.query(
      `SELECT rn.node_id AS "nodeId", rn.deployment_id AS "deploymentId" FROM rollout_nodes rn
         LEFT JOIN deployment_targets dt ON dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id
        WHERE rn.rollout_id = $1 AND NOT rn.published AND rn.deployment_id IS NOT NULL
          AND (rn.state IN ('dispatched', 'reverting') OR (rn.state IN ('retry-wait', 'failed') AND dt.shadow_decision = 'abandon'))`,
      [rolloutId],
    )) as { nodeId: string; deploymentId: string }[];
  }

  deployment(id: string): Promise<Deployment> {
    return this.db.getRepository(Deployment).findOneByOrFail({ id });
  }

  async markPublished(rolloutId: string, deploymentId: string, nodeIds: readonly string[]): Promise<void> {
    await this.db.getRepository(RolloutNode).update({ rolloutId, deploymentId, nodeId: In([...nodeIds]) }, { published: true });
  }
}
