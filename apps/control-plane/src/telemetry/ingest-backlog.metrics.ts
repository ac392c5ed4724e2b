import { Inject, Injectable } from '@nestjs/common';
import { Gauge, type Registry } from 'prom-client';
import { METRICS_REGISTRY } from '../metrics/metrics.controller.js';
import { scrapeRead } from '../metrics/scrape-read.js';
import { HeartbeatRollupsRepository } from './heartbeat-rollups.repository.js';
import { TelemetryService } from './telemetry.service.js';

/**
 * Ingest lag per stream, read from the batch writers at scrape time (nothing to keep up to date): the
 * age of the oldest unwritten item and how many wait. A lag that grows is a write that fails or hangs.
 * And how far the heartbeat rollup job's watermark trails now (one row, read at scrape).
 */
@Injectable()
export class IngestBacklogMetrics {
  constructor(@Inject(METRICS_REGISTRY) registry: Registry, telemetry: TelemetryService, rollups: HeartbeatRollupsRepository) {
    new Gauge({
      name: 'edgefleet_ingest_queue_depth',
      help: 'Telemetry items received but not yet written, by table',
      labelNames: ['table'],
      registers: [registry],
      collect() {
        for (const { table, depth } of telemetry.backlog()) this.set({ table }, depth);
      },
    });
    new Gauge({
      name: 'edgefleet_ingest_lag_seconds',
      help: 'Age of the oldest telemetry item not yet written, by table (0 when none waits)',
      labelNames: ['table'],
      registers: [registry],
      collect() {
        for (const { table, oldestAgeMs } of telemetry.backlog()) this.set({ table }, oldestAgeMs / 1000);
      },
    });
    new Gauge({
      name: 'edgefleet_heartbeat_rollup_lag_seconds',
      help: 'How far the heartbeat rollup watermark trails now: heartbeats newer than this are read from their rows (5-80 s normally; growing: the job is not running or a control-plane transaction stays open)',
      registers: [registry],
      async collect() {
        // A database that is away or stalled keeps the last value (a reset would read 0, "no lag").
        const lag = await scrapeRead(() => rollups.lagSeconds());
        if (lag !== undefined && lag !== null) this.set(lag);
      },
    });
  }
}
