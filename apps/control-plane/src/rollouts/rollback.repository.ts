import { Injectable } from '@nestjs/common';
import { type DeploymentState, PRE_ACTIVATION_DEPLOYMENT_STATES } from '#protocol';
import type { Tx } from '../database/transactions.js';
import type { RolloutNode } from './rollout-node.entity.js';
import type { NodeChange } from './rollout.repository.js';

/** A node a rollback may return: what the revert needs of its row. */
export type ReachedNode = Pick<RolloutNode, 'nodeId' | 'attempts' | 'previousModelVersionId'>;

/** A target's outcomes after which its node does not run the version: it failed before activating, went back, or refused. */
const NOT_ACTIVATED_OUTCOMES: readonly DeploymentState[] = ['failed', 'rolled-back', 'rejected'];

/**
 * A node told to drop a shadowed candidate before it activated it (`dt`: its current target; $PRE: the
 * pre-activation states). Such a node still runs its previous version, unless its heartbeat says otherwise.
 */
const abandonedBeforeActivation = (pre: string) =>
  `(COALESCE(dt.shadow_decision = 'abandon' AND COALESCE(dt.state = ANY(${pre}::deployment_state[]), true), false)
    AND n.current_model_version_id IS DISTINCT FROM rn.model_version_id)`;

/** Nodes a rollout reached (and may return), with their current target and node row. */
const REACHED_FROM = `FROM rollout_nodes rn JOIN nodes n ON n.id = rn.node_id
         LEFT JOIN deployment_targets dt ON dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id
        WHERE rn.rollout_id = $1 AND rn.state IN ('dispatched', 'retry-wait', 'succeeded', 'failed')`;

/** A fleet rollback's SQL: whom it can return, whether it happened, and the reverts it gives up on. */
@Injectable()
export class RollbackRepository {
  /** Whether any node of the rollout has been sent back to its previous version. */
  async rolledBack(tx: Tx, rolloutId: string): Promise<boolean> {
    const rows = (await tx.query(`SELECT EXISTS (SELECT 1 FROM rollout_nodes WHERE rollout_id = $1 AND state IN ('reverting', 'reverted', 'revert-failed')) AS x`, [rolloutId])) as {
      x: boolean;
    }[];
    return rows[0]?.x ?? false;
  }

  /**
   * Nodes the rollout reached that ran an earlier version a rollback could return them to (`previous`),
   * and how many of those may run the rollout's version (`running`): all but those whose last target
   * says they never activated it or went back by themselves (failed, rolled back, refused), or were
   * told to abandon a shadowed candidate they had not activated — unless their heartbeat names the
   * version all the same.
   */
  async returnable(tx: Tx, rolloutId: string): Promise<{ previous: number; running: number }> {
    const rows = (await tx.query(
      `SELECT count(*)::int AS previous,
              count(*) FILTER (WHERE n.current_model_version_id = rn.model_version_id
                                  OR NOT (COALESCE(dt.state = ANY($2::deployment_state[]), false) OR ${abandonedBeforeActivation('$3')}))::int AS running
         ${REACHED_FROM} AND rn.previous_model_version_id IS NOT NULL AND rn.attempts > 0`,
      [rolloutId, NOT_ACTIVATED_OUTCOMES, PRE_ACTIVATION_DEPLOYMENT_STATES],
    )) as { previous: number; running: number }[];
    return rows[0] ?? { previous: 0, running: 0 };
  }

  /**
   * Nodes the rollout sent its version to (or is about to again), whatever came of it (`returnable`), and
   * apart those told to drop a shadowed candidate before activating it (`abandoned`): they still run
   * their previous version, so a rollback has nothing to return them from.
   */
  async reached(tx: Tx, rolloutId: string): Promise<{ returnable: ReachedNode[]; abandoned: number }> {
    const rows = (await tx.query(
      `SELECT rn.node_id AS "nodeId", rn.attempts, rn.previous_model_version_id AS "previousModelVersionId",
              ${abandonedBeforeActivation('$2')} AS abandoned
         ${REACHED_FROM}`,
      [rolloutId, PRE_ACTIVATION_DEPLOYMENT_STATES],
    )) as (ReachedNode & { abandoned: boolean })[];
    return { returnable: rows.filter((r) => !r.abandoned), abandoned: rows.filter((r) => r.abandoned).length };
  }

  /**
   * Nodes told to return to their previous version that are past their deadline without reporting the
   * outcome (offline, say) are `revert-failed` with reason `timeout`: a stopped rollout stops waiting for
   * them, so its ticks end. Their retained desired state still names the previous version, so a node
   * that comes back returns to it all the same.
   */
  async expireReverting(tx: Tx, rolloutId: string, now: Date): Promise<NodeChange[]> {
    const rows = (await tx.query(
      `UPDATE rollout_nodes SET state = 'revert-failed', reason = 'timeout', next_attempt_at = NULL, updated_at = now()
        WHERE rollout_id = $1 AND state = 'reverting' AND deadline_at < $2
      RETURNING node_id AS "nodeId", state, reason, attempts`,
      [rolloutId, now],
    )) as [NodeChange[], number];
    return rows[0];
  }
}
