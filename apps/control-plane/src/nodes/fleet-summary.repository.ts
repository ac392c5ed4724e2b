import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { parseLabelSelector, selectorToSql } from './label-selector.js';

export interface FleetSummary {
  readonly total: number;
  readonly online: number;
  readonly offline: number;
  readonly decommissioned: number;
  /** Active nodes whose latest deployment has not reached an outcome yet. */
  readonly updating: number;
  /** Active nodes whose latest deployment ended failed, rolled back or rejected. */
  readonly failed: number;
}

const OUTCOMES = `('committed', 'failed', 'rolled-back', 'rejected')`;
const FAILED = `('failed', 'rolled-back', 'rejected')`;

/** The fleet page's counters in one statement, so they stay cheap at 10,000 nodes (no page walking). */
@Injectable()
export class FleetSummaryRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async summarize(selector: string): Promise<FleetSummary> {
    const where = selectorToSql(parseLabelSelector(selector), 'n.labels');
    const active = `n.status <> 'decommissioned'`;
    const row = await this.db
      .createQueryBuilder()
      .select('count(*)::int', 'total')
      .addSelect(`count(*) FILTER (WHERE n.status = 'online')::int`, 'online')
      .addSelect(`count(*) FILTER (WHERE n.status = 'offline')::int`, 'offline')
      .addSelect(`count(*) FILTER (WHERE n.status = 'decommissioned')::int`, 'decommissioned')
      // A target without a state yet was sent but not acknowledged: the node is updating.
      .addSelect(`count(*) FILTER (WHERE ${active} AND l.node_id IS NOT NULL AND (l.state IS NULL OR l.state NOT IN ${OUTCOMES}))::int`, 'updating')
      .addSelect(`count(*) FILTER (WHERE ${active} AND l.state IN ${FAILED})::int`, 'failed')
      .from('nodes', 'n')
      .leftJoin(
        (qb) =>
          qb
            .select('t.node_id', 'node_id')
            .addSelect('t.state', 'state')
            .from('deployment_targets', 't')
            .distinctOn(['t.node_id'])
            .orderBy('t.node_id')
            .addOrderBy('t.updated_at', 'DESC'),
        'l',
        'l.node_id = n.id',
      )
      .where(where.sql, where.params)
      .getRawOne<FleetSummary>();
    return row ?? { total: 0, online: 0, offline: 0, decommissioned: 0, updating: 0, failed: 0 };
  }
}
