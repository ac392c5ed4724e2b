import { Injectable } from '@nestjs/common';
import { type DeepPartial, In, type QueryDeepPartialEntity } from 'typeorm';
import { TERMINAL_DEPLOYMENT_STATES } from '#protocol';
import type { Tx } from '../database/transactions.js';
import type { Counts } from './decide.js';
import { RolloutEvent } from './rollout-event.entity.js';
import { type NewEvent, rolloutCatalogueEvent } from '../events/catalogue.js';
import { EventRecorder } from '../events/event-recorder.js';
import { RolloutMetrics } from './rollout-metrics.js';
import { RolloutNode, type RolloutNodeState } from './rollout-node.entity.js';
import { Rollout, type RolloutState } from './rollout.entity.js';

/** The reason a failed node carries once an operator asked for it to be retried. */
const RETRY_REQUESTED = 'retry requested';

export interface NodeChange {
  readonly nodeId: string;
  readonly state: RolloutNodeState;
  readonly reason: string | null;
  readonly attempts: number;
}

export interface DueNode {
  readonly nodeId: string;
  readonly modelVersionId: string;
  readonly attempts: number;
}

/** The rollout columns actions and ticks change. */
export type RolloutChanges = Partial<Pick<Rollout, 'tickSeq' | 'waveSizes' | 'startedAt' | 'currentWave' | 'bakeUntil' | 'haltReason' | 'finishedAt' | 'scheduledAt' | 'approvedBy'>>;

/** A node something newer took over: what it runs now and where that came from. */
export interface TakenOver {
  nodeId: string;
  nodeName: string;
  version: string;
  rolloutId: string | null;
  deploymentId: string;
}

/** "node cam-7 now runs 1.0.7 from rollout <id>: roll back or deploy from there" */
export function describeTakeover(t: TakenOver): string {
  const source = t.rolloutId ? `rollout ${t.rolloutId}` : `deployment ${t.deploymentId}`;
  return `node ${t.nodeName} now runs ${t.version} from ${source}: roll back or deploy from there`;
}

/**
 * The rollout engine's SQL: set-based, so a tick costs the same few statements for 10 or 10,000 nodes.
 * The gates' statistics are in gate-stats.repository.ts, a fleet rollback's in rollback.repository.ts, reads
 * outside a tick in rollout-views.repository.ts.
 */
@Injectable()
export class RolloutRepository {
  constructor(
    private readonly metrics: RolloutMetrics,
    private readonly events: EventRecorder,
  ) {}

  /** Moves a rollout to `to` and records the event (same transaction). */
  async transition(tx: Tx, rollout: Rollout, to: RolloutState, actor: string, detail: Record<string, unknown> = {}): Promise<void> {
    const from = rollout.state;
    rollout.state = to;
    await tx.getRepository(Rollout).update({ id: rollout.id }, { state: to });
    await this.event(tx, rollout.id, to, actor, { from, ...detail });
    this.metrics.transitions.inc({ to });
  }

  /** The rollout's own history row, and the catalogue event it stands for (if any) in the same transaction. */
  async event(tx: Tx, rolloutId: string, kind: string, actor: string, detail: Record<string, unknown> = {}): Promise<void> {
    await tx.getRepository(RolloutEvent).save(tx.getRepository(RolloutEvent).create({ rolloutId, kind, actor, detail }));
    const catalogued = rolloutCatalogueEvent(kind, actor, detail);
    if (catalogued) await this.events.recordMany(tx, [{ ...catalogued, subjects: { rolloutId } } as NewEvent]);
  }

  /** Node counts per wave; superseded nodes left the rollout and count nowhere. */
  async counts(tx: Tx, rolloutId: string): Promise<Map<number, Counts>> {
    const rows = (await tx.query(
      `SELECT wave,
              count(*) FILTER (WHERE state <> 'superseded')::int AS total,
              count(*) FILTER (WHERE state = 'succeeded')::int AS succeeded,
              count(*) FILTER (WHERE state = 'failed')::int AS failed,
              count(*) FILTER (WHERE state IN ('pending', 'dispatched', 'retry-wait'))::int AS open
         FROM rollout_nodes WHERE rollout_id = $1 GROUP BY wave`,
      [rolloutId],
    )) as (Counts & { wave: number })[];
    return new Map(rows.map(({ wave, ...counts }) => [wave, counts]));
  }

  /**
   * Folds what nodes reported (deployment_targets, kept by the telemetry path) into the rollout: a
   * committed deployment succeeded, a failed/rolled-back/rejected one failed; the same for reverts.
   */
  async foldOutcomes(tx: Tx, rolloutId: string): Promise<NodeChange[]> {
    const rows = (await tx.query(
      `UPDATE rollout_nodes rn
          SET state = (CASE WHEN rn.state = 'dispatched' THEN (CASE WHEN t.state = 'committed' THEN 'succeeded' ELSE 'failed' END)
                            ELSE (CASE WHEN t.state = 'committed' THEN 'reverted' ELSE 'revert-failed' END) END)::rollout_node_state,
              -- A reverted node keeps the reason it was reverted with (its failure, if it had one).
              reason = CASE WHEN t.state = 'committed' THEN (CASE WHEN rn.state = 'reverting' THEN rn.reason END)
                            ELSE left(t.state::text || COALESCE(':' || t.reason, ''), 100) END,
              updated_at = now()
         FROM deployment_targets t
        WHERE rn.rollout_id = $1 AND rn.state IN ('dispatched', 'reverting')
          AND t.deployment_id = rn.deployment_id AND t.node_id = rn.node_id
          AND t.state = ANY($2::deployment_state[])
      RETURNING rn.node_id AS "nodeId", rn.state, rn.reason, rn.attempts`,
      [rolloutId, TERMINAL_DEPLOYMENT_STATES],
    )) as [NodeChange[], number];
    return rows[0];
  }

  /**
   * Dispatched nodes past their deadline: retried after a backoff while attempts remain, else failed.
   * One still shadowing undecided is told to abandon (and marked unpublished, so the signed decision
   * goes out): once it leaves `dispatched` no verdict reaches it, and it would shadow forever.
   */
  async timeOut(tx: Tx, rollout: Rollout, now: Date): Promise<NodeChange[]> {
    const { max, backoffSeconds } = rollout.strategy.retries;
    const rows = (await tx.query(
      `WITH abandoned AS (
         UPDATE deployment_targets dt SET shadow_decision = 'abandon', shadow_abandon_cause = 'timeout'
           FROM rollout_nodes rn JOIN deployments d ON d.id = rn.deployment_id
          WHERE rn.rollout_id = $1 AND rn.state = 'dispatched' AND rn.deadline_at < $4 AND d.shadow IS NOT NULL
            AND dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id AND dt.shadow_decision IS NULL
         RETURNING dt.node_id)
       UPDATE rollout_nodes
          SET state = (CASE WHEN attempts <= $2 THEN 'retry-wait' ELSE 'failed' END)::rollout_node_state,
              next_attempt_at = CASE WHEN attempts <= $2 THEN $4::timestamptz + make_interval(secs => $3 * power(2, attempts - 1)) END,
              published = published AND node_id NOT IN (SELECT node_id FROM abandoned),
              reason = 'timeout', updated_at = now()
        WHERE rollout_id = $1 AND state = 'dispatched' AND deadline_at < $4
      RETURNING node_id AS "nodeId", state, reason, attempts`,
      [rollout.id, max, backoffSeconds, now],
    )) as [NodeChange[], number];
    return rows[0];
  }

  /**
   * Failed nodes retried after a backoff while attempts remain (`retries.onFailure`); the others stay
   * failed. Only the given nodes (those that just failed) are considered.
   */
  async retryFailed(tx: Tx, rollout: Rollout, nodeIds: readonly string[], now: Date): Promise<NodeChange[]> {
    if (nodeIds.length === 0) return [];
    const { max, backoffSeconds } = rollout.strategy.retries;
    const rows = (await tx.query(
      `UPDATE rollout_nodes SET state = 'retry-wait', next_attempt_at = $4::timestamptz + make_interval(secs => $3 * power(2, attempts - 1)), updated_at = now()
        WHERE rollout_id = $1 AND node_id = ANY($5::uuid[]) AND state = 'failed' AND attempts <= $2
      RETURNING node_id AS "nodeId", state, reason, attempts`,
      [rollout.id, max, backoffSeconds, now, nodeIds],
    )) as [NodeChange[], number];
    return rows[0];
  }

  /**
   * Nodes of this rollout (in `states`, or only the one named) that something newer has taken over: their
   * latest deployment came from another rollout or by hand, and they no longer run this rollout's version.
   * A rollout must not revert, retry or resume them (that would silently undo the newer decision, re-issued
   * under a higher sequence so the node accepts it): they are marked `superseded`, naming what they run now.
   */
  async supersedeTakenOver(tx: Tx, rolloutId: string, states: readonly RolloutNodeState[], nodeId?: string): Promise<TakenOver[]> {
    const rows = (await tx.query(
      `WITH latest AS (
         SELECT DISTINCT ON (dt.node_id) dt.node_id, d.id AS deployment_id, d.rollout_id, d.model_version_id
           FROM deployment_targets dt JOIN deployments d ON d.id = dt.deployment_id
          WHERE dt.node_id IN (SELECT node_id FROM rollout_nodes WHERE rollout_id = $1 AND state::text = ANY($2::text[]))
          ORDER BY dt.node_id, d.created_at DESC, d.id)
       UPDATE rollout_nodes rn
          SET state = 'superseded', next_attempt_at = NULL, updated_at = now(),
              reason = left('superseded: now runs ' || mv.version || ' from ' ||
                            CASE WHEN l.rollout_id IS NULL THEN 'deployment ' || l.deployment_id::text ELSE 'rollout ' || l.rollout_id::text END, 100)
         FROM latest l JOIN nodes n ON n.id = l.node_id JOIN model_versions mv ON mv.id = l.model_version_id
        WHERE rn.rollout_id = $1 AND rn.state::text = ANY($2::text[]) AND ($3::uuid IS NULL OR rn.node_id = $3::uuid) AND l.node_id = rn.node_id
          AND l.rollout_id IS DISTINCT FROM $1::uuid AND n.current_model_version_id IS DISTINCT FROM rn.model_version_id
      RETURNING rn.node_id AS "nodeId", n.name AS "nodeName", mv.version, l.rollout_id AS "rolloutId", l.deployment_id AS "deploymentId"`,
      [rolloutId, states, nodeId ?? null],
    )) as [TakenOver[], number];
    return rows[0];
  }

  /**
   * Failed nodes (all, or those named) made due again at once: an operator's retry, a resume, or nodes
   * that confirmed a stop's cancel after their rollout was resumed.
   */
  async requeueFailed(tx: Tx, rolloutId: string, now: Date, nodeIds?: readonly string[]): Promise<string[]> {
    const rows = (await tx.query(
      `UPDATE rollout_nodes SET state = 'retry-wait', next_attempt_at = $2, reason = '${RETRY_REQUESTED}', updated_at = now()
        WHERE rollout_id = $1 AND state = 'failed' AND ($3::uuid[] IS NULL OR node_id = ANY($3::uuid[]))
      RETURNING node_id AS "nodeId"`,
      [rolloutId, now, nodeIds ?? null],
    )) as [{ nodeId: string }[], number];
    return rows[0].map((r) => r.nodeId);
  }

  /**
   * Nodes still `dispatched` under a deployment they were told to abandon (a shadowed candidate the
   * rollout's stop or its gate dropped), made due again at once: a resume means to send them the version,
   * and that deployment can only end in their failure, so it is not waited for (the newer desired state
   * supersedes it on the node). An attempt a stop cancelled is not counted against the node's retries.
   */
  async requeueAbandoned(tx: Tx, rolloutId: string, now: Date): Promise<string[]> {
    const rows = (await tx.query(
      `UPDATE rollout_nodes rn
          SET state = 'retry-wait', next_attempt_at = $2, reason = '${RETRY_REQUESTED}', updated_at = now(),
              attempts = CASE WHEN dt.shadow_abandon_cause = 'stopped' THEN GREATEST(rn.attempts - 1, 0) ELSE rn.attempts END
         FROM deployment_targets dt
        WHERE rn.rollout_id = $1 AND rn.state = 'dispatched' AND dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id
          AND dt.shadow_decision = 'abandon'
      RETURNING rn.node_id AS "nodeId"`,
      [rolloutId, now],
    )) as [{ nodeId: string }[], number];
    return rows[0].map((r) => r.nodeId);
  }

  /**
   * Nodes not yet done that already run the version the rollout gives them (deployed by hand meanwhile,
   * or before the rollout started) count as succeeded: nodes never sent anything, and failed nodes an
   * operator asked to retry. Nodes that just failed or timed out are left alone: the version their last
   * heartbeat named may be the one they are abandoning (a soak that fails, then a rollback).
   */
  async alreadyRunning(tx: Tx, rolloutId: string): Promise<string[]> {
    const rows = (await tx.query(
      `UPDATE rollout_nodes rn SET state = 'succeeded', reason = 'already runs this version', next_attempt_at = NULL, updated_at = now()
         FROM nodes n
        WHERE rn.rollout_id = $1 AND (rn.state = 'pending' OR (rn.state = 'retry-wait' AND rn.reason = '${RETRY_REQUESTED}')) AND n.id = rn.node_id
          AND n.current_model_version_id = rn.model_version_id
      RETURNING rn.node_id AS "nodeId"`,
      [rolloutId],
    )) as [{ nodeId: string }[], number];
    return rows[0].map((r) => r.nodeId);
  }

  /** The first `limit` failed nodes (by name) with what they reported, and how many failed in all. */
  async failures(tx: Tx, rolloutId: string, limit: number): Promise<{ name: string; reason: string | null; detail: string | null; total: number }[]> {
    return (await tx.query(
      `SELECT n.name, rn.reason, dt.detail, count(*) OVER ()::int AS total
         FROM rollout_nodes rn JOIN nodes n ON n.id = rn.node_id
         LEFT JOIN deployment_targets dt ON dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id
        WHERE rn.rollout_id = $1 AND rn.state = 'failed'
        ORDER BY rn.updated_at, n.name LIMIT $2`,
      [rolloutId, limit],
    )) as { name: string; reason: string | null; detail: string | null; total: number }[];
  }

  async dispatchedSince(tx: Tx, rolloutId: string, since: Date): Promise<number> {
    const rows = (await tx.query(`SELECT count(*)::int AS n FROM rollout_nodes WHERE rollout_id = $1 AND dispatched_at > $2`, [rolloutId, since])) as { n: number }[];
    return rows[0]?.n ?? 0;
  }

  /** Open nodes of the waves reached so far, first-come by wave: new ones and retries whose backoff is over. */
  async dueNodes(tx: Tx, rollout: Rollout, limit: number, now: Date): Promise<DueNode[]> {
    return (await tx.query(
      `SELECT node_id AS "nodeId", model_version_id AS "modelVersionId", attempts FROM rollout_nodes
        WHERE rollout_id = $1 AND wave <= $2 AND (state = 'pending' OR (state = 'retry-wait' AND next_attempt_at <= $3))
        ORDER BY wave, node_id LIMIT $4`,
      [rollout.id, rollout.currentWave, now, Math.min(limit, 100_000)],
    )) as DueNode[];
  }

  /**
   * Marks nodes dispatched under a deployment (unpublished until the broker has the desired states),
   * records what each ran before (for a fleet rollback), and supersedes them in any other rollout
   * (failed ones too: a later resume or retry there must not undo this delivery).
   */
  async markDispatched(tx: Tx, rollout: Rollout, deploymentId: string, nodeIds: readonly string[], now: Date, deadline: Date): Promise<void> {
    await tx.query(
      `UPDATE rollout_nodes rn
          SET state = 'dispatched', attempts = rn.attempts + 1, deployment_id = $2, attempt_deployment_id = $2, published = false,
              dispatched_at = $4, deadline_at = $5, next_attempt_at = NULL, reason = NULL, updated_at = now(),
              previous_model_version_id = CASE WHEN rn.attempts = 0 THEN n.current_model_version_id ELSE rn.previous_model_version_id END
         FROM nodes n
        WHERE rn.rollout_id = $1 AND rn.node_id = ANY($3::uuid[]) AND n.id = rn.node_id`,
      [rollout.id, deploymentId, nodeIds, now, deadline],
    );
    await tx.query(
      `UPDATE rollout_nodes SET state = 'superseded', reason = left('superseded by rollout ' || $1::text, 100), updated_at = now()
        WHERE node_id = ANY($2::uuid[]) AND rollout_id <> $1 AND state IN ('pending', 'dispatched', 'retry-wait', 'failed')`,
      [rollout.id, nodeIds],
    );
  }

  /** The rollout, row-locked until the transaction ends: every action and tick on it runs one at a time. */
  lock(tx: Tx, id: string): Promise<Rollout | null> {
    return tx.getRepository(Rollout).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  insert(tx: Tx, rollout: DeepPartial<Rollout>): Promise<Rollout> {
    const repo = tx.getRepository(Rollout);
    return repo.save(repo.create(rollout));
  }

  /** Writes these columns of the rollout's row (the caller keeps its entity in step). */
  async update(tx: Tx, id: string, changes: RolloutChanges): Promise<void> {
    await tx.getRepository(Rollout).update({ id }, changes as QueryDeepPartialEntity<Rollout>);
  }

  findNode(tx: Tx, rolloutId: string, nodeId: string): Promise<RolloutNode | null> {
    return tx.getRepository(RolloutNode).findOneBy({ rolloutId, nodeId });
  }

  countNodes(tx: Tx, rolloutId: string, states: readonly RolloutNodeState[]): Promise<number> {
    return tx.getRepository(RolloutNode).count({ where: { rolloutId, state: In([...states]) } });
  }

  async updateNodes(tx: Tx, rolloutId: string, nodeIds: readonly string[], changes: Partial<Pick<RolloutNode, 'state' | 'reason' | 'deploymentId' | 'published' | 'deadlineAt'>>): Promise<void> {
    await tx.getRepository(RolloutNode).update({ rolloutId, nodeId: In([...nodeIds]) }, changes);
  }
}
