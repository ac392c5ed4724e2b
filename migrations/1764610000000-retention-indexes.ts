import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Retention (issue 12): the retention job deletes rollup rows by time in small batches. The rollup tables'
 * keys start with the model version, so without these a batch would scan the table for old rows. Rows are
 * written in time order (a period's row is created when its first telemetry arrives), so a BRIN index on
 * the period is a few pages and finds the old end of the table at once. `events` already has
 * `events_created_at_idx`.
 */
export class RetentionIndexes1764610000000 implements MigrationInterface {
  name = 'RetentionIndexes1764610000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX "model_version_rollups_minute_brin_idx" ON "model_version_rollups" USING brin ("minute")`);
    await db.query(`CREATE INDEX "model_version_hourly_rollups_hour_brin_idx" ON "model_version_hourly_rollups" USING brin ("hour")`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX "model_version_hourly_rollups_hour_brin_idx"`);
    await db.query(`DROP INDEX "model_version_rollups_minute_brin_idx"`);
  }
}
