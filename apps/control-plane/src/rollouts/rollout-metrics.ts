import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS_REGISTRY } from '../metrics/metrics.controller.js';
import { scrapeRead } from '../metrics/scrape-read.js';
import { RolloutMetricsRepository } from './rollout-metrics.repository.js';

/**
 * Rollout metrics: transitions, halts and dispatches are counted as they happen; nodes by state and
 * the current wave of unfinished rollouts are read from PostgreSQL at scrape time (the truth, whichever
 * replica ran the jobs), each read bounded (`scrapeRead`).
 */
@Injectable()
export class RolloutMetrics {
  readonly transitions: Counter<'to'>;
  readonly halts: Counter;
  readonly dispatched: Counter;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, repository: RolloutMetricsRepository) {
    this.transitions = new Counter({ name: 'edgefleet_rollout_transitions_total', help: 'Rollout state changes, by new state', labelNames: ['to'], registers: [registry] });
    this.halts = new Counter({ name: 'edgefleet_rollout_halts_total', help: 'Rollouts halted by a failure threshold, success threshold or health gate', registers: [registry] });
    this.dispatched = new Counter({ name: 'edgefleet_rollout_dispatches_total', help: 'Node deliveries made by rollouts (first attempts and retries)', registers: [registry] });
    new Gauge({
      name: 'edgefleet_rollout_nodes',
      help: 'Nodes of unfinished rollouts, by node state',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const rows = await scrapeRead(() => repository.nodesByState());
        if (!rows) return; // the database did not answer: the last values stay
        this.reset();
        for (const row of rows) this.set({ state: row.state }, row.n);
      },
    });
    new Gauge({
      name: 'edgefleet_rollout_wave',
      help: 'Current wave (1-based) and wave count of running or paused rollouts',
      labelNames: ['rollout', 'of'],
      registers: [registry],
      async collect() {
        const rows = await scrapeRead(() => repository.waves());
        if (!rows) return;
        this.reset();
        for (const row of rows) this.set({ rollout: row.id, of: String(row.waves) }, row.current_wave + 1);
      },
    });
  }
}
