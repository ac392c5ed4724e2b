import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { TERMINAL_DEPLOYMENT_STATES } from '#protocol';
import type { Counts } from './decide.js';
import { LATENCY_BUCKET_COUNT, latencyPercentiles } from '#protocol';
import { unpackHistogram } from '../telemetry/packed-histogram.js';
import type { SideStats } from './health-gate.js';
import { RolloutEvent } from './rollout-event.entity.js';
import { type NewEvent, rolloutCatalogueEvent } from '../events/catalogue.js';
import { EventRecorder } from '../events/event-recorder.js';
import { RolloutMetrics } from './rollout-metrics.js';
import type { RolloutNodeState } from './rollout-node.entity.js';
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

/** The rollout engine's SQL: set-based, so a tick costs the same few statements for 10 or 10,000 nodes. */
@Injectable()
export class RolloutRepository {
  constructor(
    private readonly metrics: RolloutMetrics,
    private readonly events: EventRecorder,
  ) {}

  /** Moves a rollout to `to` and records the event (same transaction). */
  async transition(tx: EntityManager, rollout: Rollout, to: RolloutState, actor: string, detail: Record<string, unknown> = {}): Promise<void> {
    const from = rollout.state;
    rollout.state = to;
    await tx.getRepository(Rollout).update({ id: rollout.id }, { state: to });
    await this.event(tx, rollout.id, to, actor, { from, ...detail });
    this.metrics.transitions.inc({ to });
  }

  /** The rollout's own history row, and the catalogue event it stands for (if any) in the same transaction. */
  async event(tx: EntityManager, rolloutId: string, kind: string, actor: string, detail: Record<string, unknown> = {}): Promise<void> {
    await tx.getRepository(RolloutEvent).save(tx.getRepository(RolloutEvent).create({ rolloutId, kind, actor, detail }));
    const catalogued = rolloutCatalogueEvent(kind, actor, detail);
    if (catalogued) await this.events.recordMany(tx, [{ ...catalogued, subjects: { rolloutId } } as NewEvent]);
  }

  /** Node counts per wave; superseded nodes left the rollout and count nowhere. */
  async counts(tx: EntityManager, rolloutId: string): Promise<Map<number, Counts>> {
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
  async foldOutcomes(tx: EntityManager, rolloutId: string): Promise<NodeChange[]> {
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
   * Nodes told to return to their previous version that are past their deadline without reporting the
   * outcome (offline, say) are `revert-failed` with reason `timeout`: a stopped rollout stops waiting for
   * them, so its ticks end. Their retained desired state still names the previous version, so a node
   * that comes back returns to it all the same.
   */
  async expireReverting(tx: EntityManager, rolloutId: string, now: Date): Promise<NodeChange[]> {
    const rows = (await tx.query(
      `UPDATE rollout_nodes SET state = 'revert-failed', reason = 'timeout', next_attempt_at = NULL, updated_at = now()
        WHERE rollout_id = $1 AND state = 'reverting' AND deadline_at < $2
      RETURNING node_id AS "nodeId", state, reason, attempts`,
      [rolloutId, now],
    )) as [NodeChange[], number];
    return rows[0];
  }

  /**
   * Dispatched nodes past their deadline: retried after a backoff while attempts remain, else failed.
   * One still shadowing undecided is told to abandon (and marked unpublished, so the signed decision
   * goes out): once it leaves `dispatched` no verdict reaches it, and it would shadow forever.
   */
  async timeOut(tx: EntityManager, rollout: Rollout, now: Date): Promise<NodeChange[]> {
    const { max, backoffSeconds } = rollout.strategy.retries;
    const rows = (await tx.query(
      `WITH abandoned AS (
         UPDATE deployment_targets dt SET shadow_decision = 'abandon'
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
  async retryFailed(tx: EntityManager, rollout: Rollout, nodeIds: readonly string[], now: Date): Promise<NodeChange[]> {
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
  async supersedeTakenOver(tx: EntityManager, rolloutId: string, states: readonly RolloutNodeState[], nodeId?: string): Promise<TakenOver[]> {
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

  /** Failed nodes (all, or the one named) made due again at once: an operator's retry or a resume. */
  async requeueFailed(tx: EntityManager, rolloutId: string, now: Date, nodeId?: string): Promise<string[]> {
    const rows = (await tx.query(
      `UPDATE rollout_nodes SET state = 'retry-wait', next_attempt_at = $2, reason = '${RETRY_REQUESTED}', updated_at = now()
        WHERE rollout_id = $1 AND state = 'failed' AND ($3::uuid IS NULL OR node_id = $3::uuid)
      RETURNING node_id AS "nodeId"`,
      [rolloutId, now, nodeId ?? null],
    )) as [{ nodeId: string }[], number];
    return rows[0].map((r) => r.nodeId);
  }

  /**
   * Nodes not yet done that already run the version the rollout gives them (deployed by hand meanwhile,
   * or before the rollout started) count as succeeded: nodes never sent anything, and failed nodes an
   * operator asked to retry. Nodes that just failed or timed out are left alone: the version their last
   * heartbeat named may be the one they are abandoning (a soak that fails, then a rollback).
   */
  async alreadyRunning(tx: EntityManager, rolloutId: string): Promise<string[]> {
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

  /** Whether any node of the rollout has been sent back to its previous version. */
  async rolledBack(tx: EntityManager, rolloutId: string): Promise<boolean> {
    const rows = (await tx.query(`SELECT EXISTS (SELECT 1 FROM rollout_nodes WHERE rollout_id = $1 AND state IN ('reverting', 'reverted', 'revert-failed')) AS x`, [rolloutId])) as {
      x: boolean;
    }[];
    return rows[0]?.x ?? false;
  }

  /** The first `limit` failed nodes (by name) with what they reported, and how many failed in all. */
  async failures(tx: EntityManager, rolloutId: string, limit: number): Promise<{ name: string; reason: string | null; detail: string | null; total: number }[]> {
    return (await tx.query(
      `SELECT n.name, rn.reason, dt.detail, count(*) OVER ()::int AS total
         FROM rollout_nodes rn JOIN nodes n ON n.id = rn.node_id
         LEFT JOIN deployment_targets dt ON dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id
        WHERE rn.rollout_id = $1 AND rn.state = 'failed'
        ORDER BY rn.updated_at, n.name LIMIT $2`,
      [rolloutId, limit],
    )) as { name: string; reason: string | null; detail: string | null; total: number }[];
  }

  async dispatchedSince(tx: EntityManager, rolloutId: string, since: Date): Promise<number> {
    const rows = (await tx.query(`SELECT count(*)::int AS n FROM rollout_nodes WHERE rollout_id = $1 AND dispatched_at > $2`, [rolloutId, since])) as { n: number }[];
    return rows[0]?.n ?? 0;
  }

  /** Open nodes of the waves reached so far, first-come by wave: new ones and retries whose backoff is over. */
  async dueNodes(tx: EntityManager, rollout: Rollout, limit: number, now: Date): Promise<DueNode[]> {
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
  async markDispatched(tx: EntityManager, rollout: Rollout, deploymentId: string, nodeIds: readonly string[], now: Date, deadline: Date): Promise<void> {
    await tx.query(
      `UPDATE rollout_nodes rn
          SET state = 'dispatched', attempts = rn.attempts + 1, deployment_id = $2, published = false,
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

  /**
   * Model-health statistics over the last `windowSeconds` (docs/model-health.md): canary = the rollout's nodes whose heartbeat
   * names a version of this rollout; control = its nodes still on anything else. Attributed by model version, never by digest alone:
   * identical bytes can be deployed as a new version (new preprocessing or labels), and its nodes are the
   * canary while the nodes on the old version of the same bytes are the control. A result carries its
   * resolved `model_version_id`; a heartbeat the name, version and variant the node reported. A row
   * without a version (older agents, rows stored before versions were recorded) falls back to its digest
   * only when that digest is no other version's: otherwise it cannot be attributed and counts on neither
   * side (its `canary` is null).
   *
   * Latency: the heartbeats' histograms are merged bucket by bucket and the side's percentiles read from
   * the merge, exact to the bucket. Heartbeats of agents that report only p50/p99 count only when a side
   * has no histogram at all (then the inference-weighted mean of their p99s, as before histograms).
   *
   * Confidence: what the heartbeats reported (every successful inference, whatever the results policy
   * sends), and the stored results of nodes whose heartbeats in the window reported none.
   *
   * `endsAgoSeconds` moves the window into the past (the console's canary-vs-control series, one window per
   * step). Null, as the gates call it, leaves the window open-ended at its newest side, exactly as before.
   */
  async gateStats(tx: EntityManager, rollout: Rollout, windowSeconds: number, endsAgoSeconds: number | null = null): Promise<[SideStats, SideStats]> {
    const rows = (await tx.query(
      `WITH new_versions AS (
              SELECT mv.id, mv.artifact_sha256 AS sha, m.name, mv.version, mv.variant
                FROM model_versions mv JOIN models m ON m.id = mv.model_id WHERE mv.id = ANY($2::uuid[])),
            -- Digests of the new versions that no other version shares: only these attribute a row without a version.
            unambiguous AS (
              SELECT nv.sha FROM new_versions nv
               WHERE NOT EXISTS (SELECT 1 FROM model_versions o WHERE o.artifact_sha256 = nv.sha AND o.id <> ALL($2::uuid[]))),
            targets AS (SELECT node_id FROM rollout_nodes WHERE rollout_id = $1 AND state <> 'superseded'),
            beats AS (
              SELECT h.node_id, h.inferences, h.errors, h.latency_p99_ms, h.latency_hist, h.confidences, h.confidence_sum,
                     CASE WHEN h.model_version IS NOT NULL
                            THEN EXISTS (SELECT 1 FROM new_versions nv WHERE nv.sha = h.model_sha256 AND nv.name = h.model_name
                                                                          AND nv.version = h.model_version AND nv.variant = h.model_variant)
                          WHEN h.model_sha256 IN (SELECT sha FROM unambiguous) THEN true
                          WHEN h.model_sha256 IN (SELECT sha FROM new_versions) THEN NULL
                          ELSE false END AS canary
                FROM node_heartbeats h JOIN targets t ON t.node_id = h.node_id
               WHERE h.received_at > now() - make_interval(secs => $3) AND h.model_sha256 IS NOT NULL
                 AND ($4::float8 IS NULL OR h.received_at <= now() - make_interval(secs => $4::float8))),
            results AS (
              SELECT r.confidence,
                     CASE WHEN r.model_version_id IS NOT NULL THEN r.model_version_id IN (SELECT id FROM new_versions)
                          WHEN r.model_sha256 IN (SELECT sha FROM unambiguous) THEN true
                          WHEN r.model_sha256 IN (SELECT sha FROM new_versions) THEN NULL
                          ELSE false END AS canary
                FROM inference_results r JOIN targets t ON t.node_id = r.node_id
               WHERE r.received_at > now() - make_interval(secs => $3)
                 AND ($4::float8 IS NULL OR r.received_at <= now() - make_interval(secs => $4::float8))
                 AND r.node_id NOT IN (SELECT node_id FROM beats WHERE confidences IS NOT NULL)),
            -- Per side: the confidence the heartbeats reported (every successful inference) plus the stored
            -- results of nodes that reported none (older agents); never both for one node.
            confidence AS (
              SELECT canary, sum(n) AS n, sum(s) AS s FROM (
                SELECT canary, confidences AS n, confidence_sum AS s FROM beats WHERE confidences IS NOT NULL
                UNION ALL SELECT canary, 1, confidence FROM results) x
               GROUP BY canary)
       SELECT side.canary,
              (SELECT count(DISTINCT node_id) FROM beats b WHERE b.canary = side.canary)::int AS nodes,
              (SELECT COALESCE(sum(inferences), 0) FROM beats b WHERE b.canary = side.canary)::float8 AS inferences,
              (SELECT COALESCE(sum(errors), 0) FROM beats b WHERE b.canary = side.canary)::float8 AS errors,
              (SELECT sum(latency_hist) FROM beats b WHERE b.canary = side.canary)::text AS "latencyHist",
              (SELECT sum(latency_p99_ms * inferences) / NULLIF(sum(inferences) FILTER (WHERE latency_p99_ms IS NOT NULL), 0)
                 FROM beats b WHERE b.canary = side.canary AND latency_p99_ms IS NOT NULL AND latency_hist IS NULL)::float8 AS "legacyP99Ms",
              (SELECT s / NULLIF(n, 0) FROM confidence c WHERE c.canary = side.canary)::float8 AS "meanConfidence",
              COALESCE((SELECT n FROM confidence c WHERE c.canary = side.canary), 0)::float8 AS results
         FROM (VALUES (true), (false)) AS side(canary)`,
      [rollout.id, rollout.variants.map((v) => v.modelVersionId), windowSeconds + (endsAgoSeconds ?? 0), endsAgoSeconds],
    )) as SideRow[];
    const side = (canary: boolean): SideStats => sideStats(rows.find((r) => r.canary === canary) as SideRow);
    return [side(true), side(false)];
  }
}

interface SideRow extends Omit<SideStats, 'latencyP99Ms' | 'latencyMs'> {
  readonly canary: boolean;
  /** Packed (telemetry/packed-histogram.ts); null when no heartbeat of the side carried one. */
  readonly latencyHist: string | null;
  readonly legacyP99Ms: number | null;
}

/** The percentiles of a side's merged histogram, or its legacy p99 mean when none of its heartbeats had one. */
function sideStats({ canary: _canary, latencyHist, legacyP99Ms, ...counts }: SideRow): SideStats {
  const latencyMs = latencyHist === null ? null : latencyPercentiles(unpackHistogram(latencyHist, LATENCY_BUCKET_COUNT));
  return { ...counts, latencyMs, latencyP99Ms: latencyMs ? latencyMs.p99 : legacyP99Ms };
}
