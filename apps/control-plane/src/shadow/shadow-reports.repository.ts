import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { PRE_ACTIVATION_DEPLOYMENT_STATES, type ShadowAbandonCause, type ShadowDecision, type ShadowReportMessage, TERMINAL_DEPLOYMENT_STATES } from '#protocol';
import type { ShadowWaveFigures } from './shadow-gate.js';

/** Shadow reports and decisions in SQL: one statement each, whatever the wave's size. */
@Injectable()
export class ShadowReportsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Keeps a node's latest report per deployment (a higher `seq` replaces it; a repeat or an older one
   * changes nothing). A report for a deployment that does not target the node, or about another artifact
   * than the deployment's, is dropped: answers false.
   */
  async record(nodeId: string, m: ShadowReportMessage): Promise<boolean> {
    const rows = (await this.db.query(
      `INSERT INTO shadow_reports AS sr (deployment_id, node_id, seq, sha256, started_at, samples, agreed, errors, skipped,
                                         mean_divergence, mean_abs_diff, active_latency_ms, candidate_latency_ms)
       SELECT $1::uuid, $2::uuid, $3::bigint, $4::varchar, $5::timestamptz, $6::int, $7::int, $8::int, $9::int, $10::real, $11::real, $12::real, $13::real
        WHERE EXISTS (SELECT 1 FROM deployment_targets dt JOIN deployments d ON d.id = dt.deployment_id
                                JOIN model_versions mv ON mv.id = d.model_version_id
                        WHERE dt.deployment_id = $1::uuid AND dt.node_id = $2::uuid AND mv.artifact_sha256 = $4::varchar)
       ON CONFLICT (deployment_id, node_id) DO UPDATE
          SET seq = EXCLUDED.seq, sha256 = EXCLUDED.sha256, started_at = EXCLUDED.started_at, samples = EXCLUDED.samples,
              agreed = EXCLUDED.agreed, errors = EXCLUDED.errors, skipped = EXCLUDED.skipped, mean_divergence = EXCLUDED.mean_divergence,
              mean_abs_diff = EXCLUDED.mean_abs_diff, active_latency_ms = EXCLUDED.active_latency_ms,
              candidate_latency_ms = EXCLUDED.candidate_latency_ms, received_at = now()
        WHERE sr.seq < EXCLUDED.seq
       RETURNING 1`,
      [m.deploymentId, nodeId, m.seq, m.sha256, m.startedAt, m.samples, m.agreed, m.errors, m.skipped, m.meanDivergence, m.meanAbsDiff, m.activeLatencyMs, m.candidateLatencyMs],
    )) as unknown[];
    return rows.length > 0;
  }

  /** A wave's figures as they stand, outside any transaction (what the API shows). */
  waveFiguresNow(rolloutId: string, wave: number): Promise<ShadowWaveFigures> {
    return this.waveFigures(this.db.manager, rolloutId, wave);
  }

  /**
   * A wave's figures: the latest reports of its nodes for the deployment of each one's latest attempt
   * (nodes still waiting for a decision, and those already decided, so a pass is not undone by its own
   * nodes moving on; a retry starts the node's figures afresh, and a rollback leaves the figures it was
   * decided on). Each node counts once in the rates (a mean over
   * nodes of its own rates), so a node claiming huge sample counts cannot outvote the rest; the counters
   * are summed as float8 (exact far beyond what nodes can send, where int sums overflow). A node's run
   * counts from no earlier than its dispatch, a server-side time: a node cannot claim it has shadowed
   * longer than it was asked to.
   */
  async waveFigures(tx: EntityManager, rolloutId: string, wave: number): Promise<ShadowWaveFigures> {
    const [row] = (await tx.query(
      `SELECT count(sr.node_id)::int AS nodes, COALESCE(sum(sr.samples::float8), 0) AS samples,
              avg(sr.agreed::float8 / NULLIF(sr.samples, 0)) AS agreement,
              avg(CASE WHEN sr.samples > 0 THEN sr.mean_divergence::float8 END) AS "meanDivergence",
              avg(CASE WHEN sr.samples > 0 THEN sr.mean_abs_diff::float8 END) AS "meanAbsDiff",
              avg(CASE WHEN sr.samples > 0 THEN sr.candidate_latency_ms::float8 / NULLIF(sr.active_latency_ms, 0) END) AS "latencyRatio",
              COALESCE(sum(sr.errors::float8), 0) AS errors, COALESCE(sum(sr.skipped::float8), 0) AS skipped,
              min(GREATEST(sr.started_at, rn.dispatched_at)) AS since
         FROM rollout_nodes rn
         JOIN shadow_reports sr ON sr.deployment_id = rn.attempt_deployment_id AND sr.node_id = rn.node_id
        WHERE rn.rollout_id = $1 AND rn.wave = $2 AND rn.state <> 'superseded'`,
      [rolloutId, wave],
    )) as ShadowWaveFigures[];
    return row ?? { nodes: 0, samples: 0, agreement: null, meanDivergence: null, meanAbsDiff: null, latencyRatio: null, errors: 0, skipped: 0, since: null };
  }

  /**
   * Records a decision for the rollout's dispatched nodes still shadowing without one — in `wave` only,
   * or in every wave — and marks them unpublished, so the tick's publish step signs it into their
   * desired states after the commit. `activate` goes only to nodes that reported (they shadow now);
   * `abandon` to every undecided node. Answers the nodes decided.
   */
  async decide(tx: EntityManager, rolloutId: string, decision: ShadowDecision, wave: number): Promise<string[]> {
    return this.signDecision(
      tx,
      `rn.wave = $4 AND rn.state = 'dispatched' AND dt.shadow_decision IS NULL
       AND ($2::varchar = 'abandon' OR EXISTS (SELECT 1 FROM shadow_reports sr WHERE sr.deployment_id = dt.deployment_id AND sr.node_id = dt.node_id))`,
      [rolloutId, decision, decision === 'abandon' ? 'gate' : null, wave],
    );
  }

  /**
   * A stopping rollout: every node that may still act on its shadow order is told to abandon — those
   * undecided, and those approved (`activate`) that have not reported the candidate active yet (an
   * approval not acted on is withdrawn: it was given for a rollout that no longer goes on; the agent
   * re-reads the decision until it activates). Nodes that left `dispatched` (timed out) count too: their
   * retained desired state would still carry the order when they come back. Answers the nodes decided.
   */
  async abandonAll(tx: EntityManager, rolloutId: string, cause: Extract<ShadowAbandonCause, 'gate' | 'stopped'>): Promise<string[]> {
    return this.signDecision(
      tx,
      `rn.state IN ('dispatched', 'retry-wait', 'failed')
       AND (dt.shadow_decision IS NULL
            OR (dt.shadow_decision = 'activate' AND (dt.state IS NULL OR dt.state::text = ANY($4::text[]))))`,
      [rolloutId, 'abandon', cause, PRE_ACTIVATION_DEPLOYMENT_STATES],
    );
  }

  /**
   * Sets `$2` as the decision (and `$3` as an abandon's cause) of the rollout's (`$1`) shadowing targets
   * that `where` selects (rn, dt), unpublished.
   */
  private async signDecision(tx: EntityManager, where: string, params: unknown[]): Promise<string[]> {
    const rows = (await tx.query(
      `WITH decided AS (
         UPDATE deployment_targets dt SET shadow_decision = $2::varchar, shadow_abandon_cause = $3::varchar
           FROM rollout_nodes rn JOIN deployments d ON d.id = rn.deployment_id
          WHERE rn.rollout_id = $1 AND d.shadow IS NOT NULL
            AND dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id AND ${where}
         RETURNING dt.node_id)
       UPDATE rollout_nodes SET published = false, updated_at = now()
        WHERE rollout_id = $1 AND node_id IN (SELECT node_id FROM decided)
       RETURNING node_id AS "nodeId"`,
      params,
    )) as [{ nodeId: string }[], number];
    return rows[0].map((r) => r.nodeId);
  }

  /**
   * A stopped rollout's nodes told to abandon that are past their deadline without reporting the outcome
   * (offline, say) are failed with reason `timeout`: the rollout stops waiting for them, so its ticks end.
   * Their retained desired state still carries `abandon`, so a node that comes back drops the candidate.
   */
  async expireAbandoning(tx: EntityManager, rolloutId: string, now: Date): Promise<string[]> {
    const rows = (await tx.query(
      `UPDATE rollout_nodes rn SET state = 'failed', reason = 'timeout', next_attempt_at = NULL, updated_at = now()
         FROM deployment_targets dt
        WHERE rn.rollout_id = $1 AND rn.state = 'dispatched' AND rn.deadline_at < $2
          AND dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id AND dt.shadow_decision = 'abandon'
      RETURNING rn.node_id AS "nodeId"`,
      [rolloutId, now],
    )) as [{ nodeId: string }[], number];
    return rows[0].map((r) => r.nodeId);
  }

  /** Whether nodes told to abandon have not reported the outcome yet: a stopped rollout keeps ticking to fold it in. */
  async abandoning(tx: EntityManager, rolloutId: string): Promise<boolean> {
    const [row] = (await tx.query(
      `SELECT EXISTS (
         SELECT 1 FROM rollout_nodes rn JOIN deployment_targets dt ON dt.deployment_id = rn.deployment_id AND dt.node_id = rn.node_id
          WHERE rn.rollout_id = $1 AND rn.state = 'dispatched' AND dt.shadow_decision = 'abandon'
            AND (dt.state IS NULL OR dt.state::text <> ALL($2::text[]))) AS x`,
      [rolloutId, TERMINAL_DEPLOYMENT_STATES],
    )) as { x: boolean }[];
    return row?.x ?? false;
  }
}
