import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Gauge, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { LATENCY_BUCKET_COUNT, latencyPercentiles } from '#protocol';
import { unpackHistogram } from '../telemetry/packed-histogram.js';
import { METRICS_REGISTRY } from '../metrics/metrics.controller.js';

/** The trailing window the per-version series describe. */
const WINDOW_SECONDS = 300;
const LABELS = ['model', 'version', 'variant'] as const;

interface VersionRow {
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

/**
 * Prometheus series per model version over the last 5 minutes, read from the rollups at scrape time (the
 * truth across replicas). Labels are model, version and variant of registered versions only, never the
 * node: cardinality is bounded by the versions that served in the window, whatever nodes report.
 */
@Injectable()
export class ModelHealthMetrics {
  constructor(@Inject(METRICS_REGISTRY) registry: Registry, @InjectDataSource() db: DataSource) {
    let rows: Promise<VersionRow[]> | undefined;
    // The gauges are collected one after another in one scrape: they share one query.
    const read = () =>
      (rows ??= (
        db.query(
          // Confidence per node as the stats route takes it: reported by its heartbeats when it has any, else from its results.
          `WITH per_node AS (
                  SELECT r.model_version_id, sum(r.inferences) AS inferences, sum(r.errors) AS errors, sum(r.results) AS results, sum(r.latency_hist) AS latency_hist,
                         CASE WHEN sum(r.reported_confidences) > 0 THEN sum(r.reported_confidences) ELSE sum(r.results) END AS confidences,
                         CASE WHEN sum(r.reported_confidences) > 0 THEN sum(r.reported_confidence_sum) ELSE sum(r.confidence_sum) END AS confidence_sum
                    FROM model_version_rollups r
                   WHERE r.minute >= date_trunc('minute', now() - make_interval(secs => $1))
                   GROUP BY r.model_version_id, r.node_id)
           SELECT m.name AS model, mv.version, mv.variant, sum(p.inferences)::float8 AS inferences, sum(p.errors)::float8 AS errors,
                  sum(p.results)::float8 AS results, sum(p.confidences)::float8 AS confidences, sum(p.confidence_sum)::float8 AS "confidenceSum",
                  sum(p.latency_hist)::text AS "latencyHist"
             FROM per_node p JOIN model_versions mv ON mv.id = p.model_version_id JOIN models m ON m.id = mv.model_id
            GROUP BY m.name, mv.version, mv.variant`,
          [WINDOW_SECONDS],
        ) as Promise<VersionRow[]>
      ).finally(() => setTimeout(() => (rows = undefined), 1000).unref()));
    const gauge = (name: string, help: string, value: (row: VersionRow) => number | null, extra: string[] = [], expand?: (row: VersionRow) => [Record<string, string>, number | null][]) =>
      new Gauge({
        name,
        help,
        labelNames: [...LABELS, ...extra],
        registers: [registry],
        async collect() {
          const current = await read();
          this.reset();
          for (const row of current) {
            const labels = { model: row.model, version: row.version, variant: row.variant };
            for (const [more, v] of expand ? expand(row) : [[{}, value(row)] as [Record<string, string>, number | null]]) if (v !== null) this.set({ ...labels, ...more }, v);
          }
        },
      });
    gauge('edgefleet_model_inferences_5m', 'Inferences per model version in the last 5 minutes (heartbeats)', (r) => r.inferences);
    gauge('edgefleet_model_errors_5m', 'Failed inferences per model version in the last 5 minutes', (r) => r.errors);
    gauge('edgefleet_model_results_5m', 'Inference results stored per model version in the last 5 minutes', (r) => r.results);
    gauge('edgefleet_model_mean_confidence_5m', 'Mean top-class confidence per model version in the last 5 minutes', (r) => (r.confidences > 0 ? r.confidenceSum / r.confidences : null));
    gauge('edgefleet_model_latency_ms_5m', 'Latency percentiles per model version in the last 5 minutes, from the merged histograms (bucket upper bounds)', () => null, ['quantile'], (r) => {
      const p = latencyPercentiles(unpackHistogram(r.latencyHist, LATENCY_BUCKET_COUNT));
      return p ? [[{ quantile: '0.5' }, p.p50], [{ quantile: '0.9' }, p.p90], [{ quantile: '0.99' }, p.p99]] : [];
    });
  }
}
