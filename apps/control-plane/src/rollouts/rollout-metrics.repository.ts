import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** What the rollout gauges read at scrape time: PostgreSQL is the truth, whichever replica ran the jobs. */
@Injectable()
export class RolloutMetricsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Nodes of unfinished rollouts, counted by node state. */
  nodesByState(): Promise<{ state: string; n: number }[]> {
    return this.db.query(
      `SELECT rn.state, count(*)::int AS n FROM rollout_nodes rn JOIN rollouts r ON r.id = rn.rollout_id
        WHERE r.state IN ('running', 'paused', 'awaiting-approval') GROUP BY rn.state`,
    ) as Promise<{ state: string; n: number }[]>;
  }

  /** The current wave (0-based) and wave count of running or paused rollouts. */
  waves(): Promise<{ id: string; current_wave: number; waves: number }[]> {
    return this.db.query(`SELECT id, current_wave, jsonb_array_length(wave_sizes) AS waves FROM rollouts WHERE state IN ('running', 'paused')`) as Promise<
      { id: string; current_wave: number; waves: number }[]
    >;
  }
}
