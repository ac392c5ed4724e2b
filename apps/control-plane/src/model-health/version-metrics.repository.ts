import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { queryWithoutJit } from '../database/query-without-jit.js';
import { ROLLUP_TIERS, rollupSource } from '../telemetry/rollup-sql.js';

export interface VersionWindowRow {
  readonly model: string;
  readonly version: string;
  readonly variant: string;
  readonly inferences: number;
  readonly errors: number;
  readonly results: number;
  readonly confidences: number;
  readonly confidenceSum: number;
  readonly latencyHist: string;
}

const SINCE = `date_trunc('minute', now() - make_interval(secs => $1))`;

/** What the per-version Prometheus series read from the rollups (and the heartbeats not rolled up yet) at scrape time. */
@Injectable()
export class VersionMetricsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Per registered model version over the trailing window: sums, and the merged latency histogram. */
  window(seconds: number): Promise<VersionWindowRow[]> {
    return queryWithoutJit<VersionWindowRow[]>(
      this.db,
      // Confidence per node as the stats route takes it: reported by its heartbeats when it has any, else from its results.
      `WITH per_node AS (
          SELECT r.model_version_id, sum(r.inferences) AS inferences, sum(r.errors) AS errors, sum(r.results) AS results, sum(r.latency_hist) AS latency_hist,
                 CASE WHEN sum(r.reported_confidences) > 0 THEN sum(r.reported_confidences) ELSE sum(r.results) END AS confidences,
                 CASE WHEN sum(r.reported_confidences) > 0 THEN sum(r.reported_confidence_sum) ELSE sum(r.confidence_sum) END AS confidence_sum
            FROM ${rollupSource(ROLLUP_TIERS[0], SINCE)} r
           WHERE r.minute >= ${SINCE}
           GROUP BY r.model_version_id, r.node_id)
       SELECT m.name AS model, mv.version, mv.variant, sum(p.inferences)::float8 AS inferences, sum(p.errors)::float8 AS errors,
          sum(p.results)::float8 AS results, sum(p.confidences)::float8 AS confidences, sum(p.confidence_sum)::float8 AS "confidenceSum",
          sum(p.latency_hist)::text AS "latencyHist"
     FROM per_node p JOIN model_versions mv ON mv.id = p.model_version_id JOIN models m ON m.id = mv.model_id
    GROUP BY m.name, mv.version, mv.variant`,
      [seconds],
    );
  }
}
