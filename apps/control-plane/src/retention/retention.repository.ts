import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { RetentionTarget } from './retention-plan.js';

/**
 * One batch per statement, each its own short transaction. Events not yet fanned out to webhooks (past
 * `webhook_dispatch_cursor`) are kept whatever their age, so a control plane that was down for longer than
 * the retention still delivers them. Rollups are found by their BRIN index on the period (migration
 * 1764610000000) and deleted by ctid: their keys start with the model version, not the time. Ingest only
 * touches the current period's rows, so a batch never contends with it.
 */
const DELETE_BATCH: Record<RetentionTarget, string> = {
  events: `
    DELETE FROM events WHERE id IN (
      SELECT id FROM events
       WHERE created_at < $1 AND id <= (SELECT last_event_id FROM webhook_dispatch_cursor WHERE id = 1)
       LIMIT $2)`,
  'minute-rollups': `
    DELETE FROM model_version_rollups WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM model_version_rollups WHERE minute < $1 LIMIT $2))`,
  'hourly-rollups': `
    DELETE FROM model_version_hourly_rollups WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM model_version_hourly_rollups WHERE hour < $1 LIMIT $2))`,
};

@Injectable()
export class RetentionRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Deletes at most `rows` rows of `target` older than `before`; returns how many. */
  async deleteBatch(target: RetentionTarget, before: Date, rows: number): Promise<number> {
    const [, affected] = (await this.db.query(DELETE_BATCH[target], [before, rows])) as [unknown, number];
    return affected;
  }
}
