import { CONFIDENCE_BUCKET_COUNT, denseHistogram, type HeartbeatMessage } from '#protocol';
import { packedBucketSql, packHistogram } from './packed-histogram.js';

/**
 * SQL that keeps `model_version_rollups` (docs/model-health.md) up to date at ingest: set-based, one
 * upsert per batch, rows grouped by (version, node) first because ON CONFLICT may touch a row once per
 * statement. The minute is the control plane's clock at ingest (as the gates' windows are), never the
 * node's. Histograms are packed numerics (packed-histogram.ts): `+` and `sum` add them bucket by bucket.
 */

/** A heartbeat's histogram, packed (numeric text); null when it has none. */
export function latencyHistLiteral(m: HeartbeatMessage): string | null {
  return m.latencyHistogram ? packHistogram(denseHistogram(m.latencyHistogram.counts)) : null;
}

/**
 * Heartbeats → inferences, errors and latency histograms. Parameters: node ids, model name, version,
 * variant, digest, inferences, errors, packed histograms (numeric). A heartbeat names its version; one
 * that matches no registered version (or has no model) is not rolled up.
 */
export const UPSERT_HEARTBEAT_ROLLUPS = `
  WITH u AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::char(64)[], $6::bigint[], $7::bigint[], $8::numeric[])
                  AS u(node_id, model, version, variant, sha, inferences, errors, hist)),
       agg AS (
         SELECT mv.id AS model_version_id, u.node_id, sum(u.inferences) AS inferences, sum(u.errors) AS errors, COALESCE(sum(u.hist), 0) AS hist
           FROM u JOIN models m ON m.name = u.model
                  JOIN model_versions mv ON mv.model_id = m.id AND mv.version = u.version AND mv.variant = u.variant AND mv.artifact_sha256 = u.sha
          GROUP BY mv.id, u.node_id)
  INSERT INTO model_version_rollups AS r (model_version_id, minute, node_id, inferences, errors, latency_hist, results, confidence_sum, confidence_hist)
  SELECT model_version_id, date_trunc('minute', now()), node_id, inferences, errors, hist, 0, 0, 0 FROM agg
   ORDER BY model_version_id, node_id -- rows locked in one order: concurrent batches cannot deadlock
  ON CONFLICT (model_version_id, minute, node_id) DO UPDATE
     SET inferences = r.inferences + EXCLUDED.inferences, errors = r.errors + EXCLUDED.errors,
         latency_hist = r.latency_hist + EXCLUDED.latency_hist`;

/**
 * Wraps the results INSERT (`insert`, which must end in `RETURNING node_id, model_version_id,
 * confidence`) so the same statement rolls up exactly the rows it inserted: a redelivered batch counts
 * once, and the rows and their rollup commit together. Returns one row `{ n }`, the rows inserted.
 * Each confidence goes to bucket ⌈c·20⌉ − 1 (clamped), as `confidenceBucket` in libs/protocol.
 */
export function insertResultsWithRollups(insert: string): string {
  return `
  WITH ins AS (${insert}),
       per_bucket AS (
         SELECT model_version_id, node_id, least(greatest(ceil(confidence::float8 * ${CONFIDENCE_BUCKET_COUNT})::int - 1, 0), ${CONFIDENCE_BUCKET_COUNT - 1}) AS b,
                count(*) AS n, sum(confidence::float8) AS s
           FROM ins WHERE model_version_id IS NOT NULL GROUP BY 1, 2, 3),
       agg AS (
         SELECT model_version_id, node_id, sum(n) AS n, sum(s) AS s, sum(${packedBucketSql('n', 'b')}) AS hist
           FROM per_bucket GROUP BY 1, 2),
       up AS (
         INSERT INTO model_version_rollups AS r (model_version_id, minute, node_id, inferences, errors, latency_hist, results, confidence_sum, confidence_hist)
         SELECT model_version_id, date_trunc('minute', now()), node_id, 0, 0, 0, n, s, hist FROM agg ORDER BY model_version_id, node_id
         ON CONFLICT (model_version_id, minute, node_id) DO UPDATE
            SET results = r.results + EXCLUDED.results, confidence_sum = r.confidence_sum + EXCLUDED.confidence_sum,
                confidence_hist = r.confidence_hist + EXCLUDED.confidence_hist)
  SELECT count(*)::int AS n FROM ins`;
}
