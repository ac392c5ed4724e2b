import { Inject, Injectable } from '@nestjs/common';
import { Gauge, type Registry } from 'prom-client';
import { LATENCY_BUCKET_COUNT, latencyPercentiles } from '#protocol';
import { unpackHistogram } from '../telemetry/packed-histogram.js';
import { METRICS_REGISTRY } from '../metrics/metrics.controller.js';
import { scrapeRead } from '../metrics/scrape-read.js';
import { type VersionWindowRow as VersionRow, VersionMetricsRepository } from './version-metrics.repository.js';

/** The trailing window the per-version series describe. */
const WINDOW_SECONDS = 300;
const LABELS = ['model', 'version', 'variant'] as const;

/**
 * Prometheus series per model version over the last 5 minutes, read from the rollups at scrape time (the
 * truth across replicas). Labels are model, version and variant of registered versions only, never the
 * node: cardinality is bounded by the versions that served in the window, whatever nodes report.
 */
@Injectable()
export class ModelHealthMetrics {
  constructor(@Inject(METRICS_REGISTRY) registry: Registry, repository: VersionMetricsRepository) {
    let rows: Promise<VersionRow[]> | undefined;
    // The gauges are collected one after another in one scrape: they share one query.
    const read = () =>
      (rows ??= repository.window(WINDOW_SECONDS).finally(() => setTimeout(() => (rows = undefined), 1000).unref()));
    const gauge = (name: string, help: string, value: (row: VersionRow) => number | null, extra: string[] = [], expand?: (row: VersionRow) => [Record<string, string>, number | null][]) =>
      new Gauge({
        name,
        help,
        labelNames: [...LABELS, ...extra],
        registers: [registry],
        async collect() {
          const current = await scrapeRead(read);
          if (!current) return; // the database did not answer: the last values stay
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
