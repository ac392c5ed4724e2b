import { CONFIDENCE_BUCKET_COUNT, confidenceCount, denseHistogram, type HeartbeatMessage, LATENCY_BUCKET_COUNT } from '#protocol';
import { packedBucketSql, packHistogram } from './packed-histogram.js';

/**
 * SQL that keeps `model_version_rollups` (docs/model-health.md) up to date at ingest: set-based, one
 * upsert per batch, rows grouped by (version, node) first because ON CONFLICT may touch a row once per
 * statement. The minute is the control plane's clock at ingest (as the gates' windows are), never the
 * node's. Histograms are packed numerics (packed-histogram.ts): `+` and `sum` add them bucket by bucket.
 */

const packedLatency = new WeakMap<HeartbeatMessage, string | null>();

/**
 * A heartbeat's histogram, packed (numeric text); null when it has none. Remembered per message: the
 * heartbeat's row and, for a node with one heartbeat in the batch (the usual case), its rollup use the same text.
 */
export function latencyHistLiteral(m: HeartbeatMessage): string | null {
  let packed = packedLatency.get(m);
  if (packed === undefined) {
    packed = m.latencyHistogram ? packHistogram(denseHistogram(m.latencyHistogram.counts)) : null;
    packedLatency.set(m, packed);
  }
  return packed;
}

/**
 * A heartbeat's confidence count and sum (nulls when it reports none): its stored columns. The histogram
 * goes to the rollups only (its packed numeric on every heartbeat row cost ingest 20–50%).
 */
export function confidenceColumns(m: HeartbeatMessage): [number | null, number | null] {
  const h = m.confidenceHistogram;
  return h ? [confidenceCount(h), h.sum] : [null, null];
}

type Pairs = readonly (readonly [number, number])[];

/** Sparse histograms summed and packed ('0' for none), as the rollup's numeric text. */
function packSum(histograms: readonly (Pairs | undefined)[], buckets: number): string {
  const dense = new Array<number>(buckets).fill(0);
  for (const pairs of histograms) for (const [bucket, n] of pairs ?? []) dense[bucket] = (dense[bucket] ?? 0) + n;
  return packHistogram(dense);
}

/**
 * A numeric[] parameter as PostgreSQL's array text: packed histograms are digits only, so nothing needs
 * quoting (the pg driver would quote and escape each element: a tenth of ingest's CPU, measured).
 */
function numericArray(values: readonly (string | null)[]): string {
  return `{${values.map((v) => v ?? 'NULL').join(',')}}`;
}

/** A group's packed latency histogram: a lone heartbeat's own text (packed once for its row too), else the sum; null when none has one. */
function groupLatency(beats: readonly HeartbeatMessage[]): string | null {
  const [first] = beats;
  if (beats.length === 1 && first) return latencyHistLiteral(first);
  if (!beats.some((m) => m.latencyHistogram)) return null;
  return packSum(beats.map((m) => m.latencyHistogram?.counts), LATENCY_BUCKET_COUNT);
}

interface HeartbeatGroup {
  readonly nodeId: string;
  readonly model: NonNullable<HeartbeatMessage['model']>;
  readonly beats: HeartbeatMessage[];
}

/**
 * The upsert's parameters for stored heartbeats, summed per (node, reported model) first: one row per
 * node and model whatever the number of heartbeats in the batch, histograms packed once per row. Null when
 * no heartbeat names a model.
 */
export function heartbeatRollupColumns(stored: readonly { readonly nodeId: string; readonly message: HeartbeatMessage }[]): unknown[] | null {
  const groups = new Map<string, HeartbeatGroup>();
  for (const { nodeId, message: m } of stored) {
    if (!m.model) continue;
    // Separators no field can hold (the schema's short text and digests are printable).
    const key = `${nodeId}\u0000${m.model.name}\u0000${m.model.version}\u0000${m.model.variant}\u0000${m.model.sha256}`;
    const group = groups.get(key);
    if (group) group.beats.push(m);
    else groups.set(key, { nodeId, model: m.model, beats: [m] });
  }
  const rows = [...groups.values()];
  if (rows.length === 0) return null;
  const sum = (g: HeartbeatGroup, of: (m: HeartbeatMessage) => number) => g.beats.reduce((total, m) => total + of(m), 0);
  return [
    rows.map((g) => g.nodeId),
    rows.map((g) => g.model.name),
    rows.map((g) => g.model.version),
    rows.map((g) => g.model.variant),
    rows.map((g) => g.model.sha256),
    rows.map((g) => sum(g, (m) => m.inferences)),
    rows.map((g) => sum(g, (m) => m.errors)),
    numericArray(rows.map(({ beats }) => groupLatency(beats))),
    rows.map((g) => sum(g, (m) => (m.confidenceHistogram ? confidenceCount(m.confidenceHistogram) : 0))),
    rows.map((g) => sum(g, (m) => m.confidenceHistogram?.sum ?? 0)),
    numericArray(rows.map((g) => packSum(g.beats.map((m) => m.confidenceHistogram?.counts), CONFIDENCE_BUCKET_COUNT))),
  ];
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
 * Upsert of `agg` rows into a tier: heartbeats' counters, latency and reported confidence, or results'
 * counters and confidence. Each source adds only to its own columns.
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
  // Rows locked in key order: concurrent batches cannot deadlock.
  return `INSERT INTO ${tier.table} AS r (model_version_id, ${tier.column}, node_id, inferences, errors, latency_hist, results, confidence_sum, confidence_hist,
                                          reported_confidences, reported_confidence_sum, reported_confidence_hist)
         SELECT model_version_id, date_trunc('${tier.unit}', now()), node_id, ${values} FROM agg ORDER BY model_version_id, node_id
         ON CONFLICT (model_version_id, ${tier.column}, node_id) DO UPDATE SET ${update}`;
}

const [MINUTES, HOURS] = ROLLUP_TIERS;

/**
 * Heartbeats → inferences, errors, latency histograms and reported confidence. Parameters: node ids,
 * model name, version, variant, digest, inferences, errors, packed latency histograms (numeric),
 * confidence counts, sums and packed histograms. A heartbeat names its version; one
 * that matches no registered version (or has no model) is not rolled up.
 */
export const UPSERT_HEARTBEAT_ROLLUPS = `
  WITH u AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::char(64)[], $6::bigint[], $7::bigint[], $8::numeric[],
                              $9::bigint[], $10::float8[], $11::numeric[])
                  AS u(node_id, model, version, variant, sha, inferences, errors, hist, cn, cs, chist)),
       agg AS (
         SELECT mv.id AS model_version_id, u.node_id, sum(u.inferences) AS inferences, sum(u.errors) AS errors, COALESCE(sum(u.hist), 0) AS hist,
                sum(u.cn) AS cn, sum(u.cs) AS cs, sum(u.chist) AS chist
           FROM u JOIN models m ON m.name = u.model
                  JOIN model_versions mv ON mv.model_id = m.id AND mv.version = u.version AND mv.variant = u.variant AND mv.artifact_sha256 = u.sha
          GROUP BY mv.id, u.node_id),
       minutes AS (${upsertInto(MINUTES, 'heartbeats')})
  ${upsertInto(HOURS, 'heartbeats')}`;

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
       minutes AS (${upsertInto(MINUTES, 'results')}),
       hours AS (${upsertInto(HOURS, 'results')})
  SELECT count(*)::int AS n FROM ins`;
}
