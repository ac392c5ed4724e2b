import { Injectable } from '@nestjs/common';
import { LATENCY_BUCKET_COUNT, latencyPercentiles } from '#protocol';
import type { Tx } from '../database/transactions.js';
import { unpackHistogram } from '../telemetry/packed-histogram.js';
import type { SideStats } from './health-gate.js';
import type { Rollout } from './rollout.entity.js';

/**
 * What the heartbeat and result gates judge (health-gate.ts): canary vs control over a window, in one
 * statement, read under the caller's transaction (a tick's, or the stats routes' one snapshot).
 */
@Injectable()
export class GateStatsRepository {
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
  async gateStats(tx: Tx, rollout: Rollout, windowSeconds: number, endsAgoSeconds: number | null = null): Promise<[SideStats, SideStats]> {
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

  /** The transaction's now(): every window of one series is measured from it. */
  async now(tx: Tx): Promise<Date> {
    const [{ now }] = (await tx.query('SELECT now() AS now')) as [{ now: Date }];
    return now;
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
