import { CONFIDENCE_BUCKET_COUNT, confidenceCount, type HeartbeatMessage, LATENCY_BUCKET_COUNT } from '#protocol';
import { packedBucketSql, packSparseHistogram } from './packed-histogram.js';

/**
 * SQL behind `model_version_rollups` and `model_version_hourly_rollups` (docs/model-health.md). Results are
 * rolled up at ingest, by the statement that inserts them. Heartbeats are rolled up by a job
 * (heartbeat-rollups.repository.ts) from their stored rows, a minute at a time, as continuous aggregates
 * are: one rollup row update per node and minute instead of two per heartbeat on the ingest path.
 * Heartbeats received since the job's watermark are read from their rows (`rollupSource`). The minute is
 * the control plane's clock at ingest (as the gates' windows are), never the node's. Histograms are packed
 * numerics (packed-histogram.ts): `+` and `sum` add them bucket by bucket.
 */

/** A heartbeat's latency histogram, packed (numeric text); null when it has none. */
export function latencyHistLiteral(m: HeartbeatMessage): string | null {
  return m.latencyHistogram ? packSparseHistogram(m.latencyHistogram.counts, LATENCY_BUCKET_COUNT) : null;
}

/** A heartbeat's confidence count, sum and packed histogram (nulls when it reports none): its stored columns. */
export function confidenceColumns(m: HeartbeatMessage): [number | null, number | null, string | null] {
  const h = m.confidenceHistogram;
  return h ? [confidenceCount(h), h.sum, packSparseHistogram(h.counts, CONFIDENCE_BUCKET_COUNT)] : [null, null, null];
}

/**
 * The two resolutions kept: per minute (short windows, the Prometheus series) and per hour (long windows:
 * a day is 24 rows per node instead of 1,440). Both are written by the same statement.
 */
export const ROLLUP_TIERS = [
  { table: 'model_version_rollups', column: 'minute', unit: 'minute' },
  { table: 'model_version_hourly_rollups', column: 'hour', unit: 'hour' },
] as const;
export type RollupTier = (typeof ROLLUP_TIERS)[number];

/**
 * Upsert of `agg` rows (model_version_id, at, node_id and the source's sums) into a tier: heartbeats'
 * counters, latency and reported confidence, or results' counters and confidence. Each source adds only
 * to its own columns. Rows are locked in key order: concurrent statements cannot deadlock.
 */
function upsertInto(tier: RollupTier, from: 'heartbeats' | 'results'): string {
  const values = from === 'heartbeats' ? 'inferences, errors, hist, 0, 0, 0, cn, cs, chist' : '0, 0, 0, n, s, hist, 0, 0, 0';
  const update =
    from === 'heartbeats'
      ? `inferences = r.inferences + EXCLUDED.inferences, errors = r.errors + EXCLUDED.errors, latency_hist = r.latency_hist + EXCLUDED.latency_hist,
         reported_confidences = r.reported_confidences + EXCLUDED.reported_confidences,
         reported_confidence_sum = r.reported_confidence_sum + EXCLUDED.reported_confidence_sum,
         reported_confidence_hist = r.reported_confidence_hist + EXCLUDED.reported_confidence_hist`
      : 'results = r.results + EXCLUDED.results, confidence_sum = r.confidence_sum + EXCLUDED.confidence_sum, confidence_hist = r.confidence_hist + EXCLUDED.confidence_hist';
  return `INSERT INTO ${tier.table} AS r (model_version_id, ${tier.column}, node_id, inferences, errors, latency_hist, results, confidence_sum, confidence_hist,
                                          reported_confidences, reported_confidence_sum, reported_confidence_hist)
         SELECT model_version_id, at, node_id, ${values} FROM agg_${tier.unit} ORDER BY model_version_id, at, node_id
         ON CONFLICT (model_version_id, ${tier.column}, node_id) DO UPDATE SET ${update}`;
}

/** Stored heartbeats matched to their registered version (name, version, variant and digest, as reported); the others are not rolled up. */
const HEARTBEATS_WITH_VERSION = `node_heartbeats h JOIN models m ON m.name = h.model_name
       JOIN model_versions mv ON mv.model_id = m.id AND mv.version = h.model_version AND mv.variant = h.model_variant AND mv.artifact_sha256 = h.model_sha256`;

/** The job's watermark row for heartbeats: everything received before `until` is in the rollups. */
export const HEARTBEAT_WATERMARK = 'heartbeats';

/**
 * The rollup job's statement: heartbeats received in [$1, $2) summed per version, node and minute, added to
 * both tiers, and the watermark moved to $2, all at once (the caller holds the watermark row's lock).
 * Returns `{ heartbeats, groups }`: the rows read and the minute rows written.
 */
export const ROLL_UP_HEARTBEATS = `
  WITH beats AS (
         SELECT mv.id AS model_version_id, h.node_id, date_trunc('minute', h.received_at) AS minute, h.inferences, h.errors,
                h.latency_hist, h.confidences, h.confidence_sum, h.confidence_hist
           FROM ${HEARTBEATS_WITH_VERSION}
          WHERE h.received_at >= $1 AND h.received_at < $2),
       agg_minute AS (
         SELECT model_version_id, minute AS at, node_id, sum(inferences) AS inferences, sum(errors) AS errors, COALESCE(sum(latency_hist), 0) AS hist,
                COALESCE(sum(confidences), 0) AS cn, COALESCE(sum(confidence_sum), 0) AS cs, COALESCE(sum(confidence_hist), 0) AS chist
           FROM beats GROUP BY 1, 2, 3),
       agg_hour AS (
         SELECT model_version_id, date_trunc('hour', at) AS at, node_id, sum(inferences) AS inferences, sum(errors) AS errors, sum(hist) AS hist,
                sum(cn) AS cn, sum(cs) AS cs, sum(chist) AS chist
           FROM agg_minute GROUP BY 1, 2, 3),
       minutes AS (${upsertInto(ROLLUP_TIERS[0], 'heartbeats')}),
       hours AS (${upsertInto(ROLLUP_TIERS[1], 'heartbeats')}),
       moved AS (UPDATE rollup_watermarks SET until = $2 WHERE name = '${HEARTBEAT_WATERMARK}')
  SELECT (SELECT count(*) FROM beats)::int AS heartbeats, (SELECT count(*) FROM agg_minute)::int AS groups`;

/**
 * A tier's rows as readers must see them: the rollup rows, plus the heartbeats the job has not rolled up
 * yet (received since the watermark) as rollup-shaped rows. Exact at every moment: the job adds a range
 * to the rollups and moves the watermark past it in one transaction, and a statement sees both or
 * neither. `since`: an SQL expression, the earliest receipt time the reader wants (its window's start):
 * with it the planner sees how few raw rows the tail holds. Columns: model_version_id, node_id, the
 * tier's column, and the rollups' sums.
 */
export function rollupSource(tier: RollupTier, since: string): string {
  return `(SELECT model_version_id, node_id, ${tier.column}, inferences, errors, latency_hist, results, confidence_sum, confidence_hist,
                  reported_confidences, reported_confidence_sum, reported_confidence_hist
             FROM ${tier.table}
           UNION ALL
           SELECT mv.id, h.node_id, date_trunc('${tier.unit}', h.received_at), h.inferences, h.errors, COALESCE(h.latency_hist, 0),
                  0::bigint, 0::float8, 0::numeric, COALESCE(h.confidences, 0), COALESCE(h.confidence_sum, 0), COALESCE(h.confidence_hist, 0)
             FROM ${HEARTBEATS_WITH_VERSION}
            WHERE h.received_at >= (SELECT until FROM rollup_watermarks WHERE name = '${HEARTBEAT_WATERMARK}') AND h.received_at >= ${since})`;
}

const [MINUTES, HOURS] = ROLLUP_TIERS;

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
       agg_minute AS (
         SELECT model_version_id, date_trunc('minute', now()) AS at, node_id, sum(n) AS n, sum(s) AS s, sum(${packedBucketSql('n', 'b')}) AS hist
           FROM per_bucket GROUP BY 1, 3),
       agg_hour AS (SELECT model_version_id, date_trunc('hour', now()) AS at, node_id, n, s, hist FROM agg_minute),
       minutes AS (${upsertInto(MINUTES, 'results')}),
       hours AS (${upsertInto(HOURS, 'results')})
  SELECT count(*)::int AS n FROM ins`;
}
