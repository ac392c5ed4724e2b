import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { queryWithoutJit } from '../database/query-without-jit.js';
import { ROLLUP_TIERS, rollupSource, type RollupTier } from '../telemetry/rollup-sql.js';
import type { StatsGrouping } from './stats-query.js';

/** Windows longer than this read the hourly rollups (a day: 24 rows per node instead of 1,440). */
export const HOURLY_FROM_SECONDS = 6 * 3600;

export const windowTier = (windowSeconds: number): RollupTier => (windowSeconds > HOURLY_FROM_SECONDS ? ROLLUP_TIERS[1] : ROLLUP_TIERS[0]);

/** One group's sums from the rollups (histograms packed: telemetry/packed-histogram.ts; null without rows). */
export interface RollupSums {
  readonly key: string | null;
  readonly total: boolean;
  readonly inferences: number;
  readonly errors: number;
  readonly latencyHist: string | null;
  readonly results: number;
  /** The confidences behind `confidenceSum` and `confidenceHist`: see `rollups`. */
  readonly confidences: number;
  readonly confidenceSum: number;
  readonly confidenceHist: string | null;
}

export interface FeedbackSums {
  readonly key: string | null;
  readonly total: boolean;
  readonly labelled: number;
  readonly correct: number;
}

export interface AccuracyPoint {
  readonly from: Date;
  readonly labelled: number;
  readonly correct: number;
}

export interface VersionRef {
  readonly id: string;
  readonly variant: string;
}

/**
 * The group key in SQL: a node id, a label's value (nodes' current labels: `$3`), or one group. The key
 * expression is chosen from a closed set, never built from input; a label key is a bound parameter.
 */
function groupKey(grouping: StatsGrouping, alias: string): string {
  if (grouping.kind === 'node') return `${alias}.node_id::text`;
  if (grouping.kind === 'label') return `n.labels ->> $3::text`;
  return `NULL::text`;
}

const params = (ids: readonly string[], windowSeconds: number, grouping: StatsGrouping) =>
  grouping.kind === 'label' ? [ids, windowSeconds, grouping.key] : [ids, windowSeconds];

/**
 * Reads model health from the rollups (with the heartbeats the job has not rolled up yet: `rollupSource`) and
 * `inference_feedback`: never the raw results. A window covers the minutes that started within it, the
 * current (partial) minute included.
 */
@Injectable()
export class ModelStatsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async versions(model: string, version: string, variant: string | undefined): Promise<VersionRef[]> {
    return (await this.db.query(
      `SELECT mv.id, mv.variant FROM model_versions mv JOIN models m ON m.id = mv.model_id
        WHERE m.name = $1 AND mv.version = $2 AND ($3::text IS NULL OR mv.variant = $3) ORDER BY mv.variant`,
      [model, version, variant ?? null],
    )) as VersionRef[];
  }

  /**
   * The total (`total: true`) and, when grouped, one row per group. Windows over HOURLY_FROM_SECONDS
   * read the hourly rollups, from the start of the hour the window starts in (up to 59 minutes more).
   *
   * Confidence is taken per node: from what its heartbeats reported (every successful inference) when
   * they reported any in the window, else from its stored results (agents without the field). Never
   * both: a node under `all` both reports and sends every result, and would count twice.
   */
  async rollups(ids: readonly string[], windowSeconds: number, grouping: StatsGrouping): Promise<RollupSums[]> {
    const key = groupKey(grouping, 'c');
    const tier = windowTier(windowSeconds);
    const since = `date_trunc('${tier.unit}', now() - make_interval(secs => $2))`;
    return queryWithoutJit<RollupSums[]>(
      this.db,
      `WITH per_node AS (
              SELECT r.node_id, sum(r.inferences) AS inferences, sum(r.errors) AS errors, sum(r.latency_hist) AS latency_hist,
                     sum(r.results) AS results, sum(r.confidence_sum) AS confidence_sum, sum(r.confidence_hist) AS confidence_hist,
                     sum(r.reported_confidences) AS rn, sum(r.reported_confidence_sum) AS rs, sum(r.reported_confidence_hist) AS rh
                FROM ${rollupSource(tier, since)} r
               WHERE r.model_version_id = ANY($1::uuid[]) AND r.${tier.column} >= ${since}
               GROUP BY r.node_id),
            c AS (
              SELECT node_id, inferences, errors, latency_hist, results,
                     CASE WHEN rn > 0 THEN rn ELSE results END AS confidences,
                     CASE WHEN rn > 0 THEN rs ELSE confidence_sum END AS confidence_sum,
                     CASE WHEN rn > 0 THEN rh ELSE confidence_hist END AS confidence_hist
                FROM per_node)
       SELECT ${key} AS key, GROUPING(${key}) = 1 AS total,
              COALESCE(sum(c.inferences), 0)::float8 AS inferences, COALESCE(sum(c.errors), 0)::float8 AS errors,
              sum(c.latency_hist)::text AS "latencyHist",
              COALESCE(sum(c.results), 0)::float8 AS results, COALESCE(sum(c.confidences), 0)::float8 AS confidences,
              COALESCE(sum(c.confidence_sum), 0)::float8 AS "confidenceSum", sum(c.confidence_hist)::text AS "confidenceHist"
         FROM c ${grouping.kind === 'label' ? 'JOIN nodes n ON n.id = c.node_id' : ''}
        GROUP BY GROUPING SETS ((${key}), ())`,
      params(ids, windowSeconds, grouping),
    );
  }

  async feedback(ids: readonly string[], windowSeconds: number, grouping: StatsGrouping): Promise<FeedbackSums[]> {
    const key = groupKey(grouping, 'f');
    return (await this.db.query(
      `SELECT ${key} AS key, GROUPING(${key}) = 1 AS total, count(*)::int AS labelled, count(*) FILTER (WHERE f.correct)::int AS correct
         FROM inference_feedback f ${grouping.kind === 'label' ? 'JOIN nodes n ON n.id = f.node_id' : ''}
        WHERE f.model_version_id = ANY($1::uuid[]) AND f.result_at >= now() - make_interval(secs => $2)
        GROUP BY GROUPING SETS ((${key}), ())`,
      params(ids, windowSeconds, grouping),
    )) as FeedbackSums[];
  }

  /** Accuracy in `stepSeconds` steps of the results' time, oldest first; steps without feedback are absent. */
  async accuracyOverTime(ids: readonly string[], windowSeconds: number, stepSeconds: number): Promise<AccuracyPoint[]> {
    return (await this.db.query(
      `SELECT to_timestamp(floor(extract(epoch FROM f.result_at) / $3) * $3) AS "from", count(*)::int AS labelled, count(*) FILTER (WHERE f.correct)::int AS correct
         FROM inference_feedback f
        WHERE f.model_version_id = ANY($1::uuid[]) AND f.result_at >= now() - make_interval(secs => $2)
        GROUP BY 1 ORDER BY 1`,
      [ids, windowSeconds, stepSeconds],
    )) as AccuracyPoint[];
  }
}
