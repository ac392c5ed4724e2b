import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Heartbeats are rolled up by a job, not at ingest (issue 14, docs/model-health.md#how-heartbeats-reach-the-rollups).
 *
 * - `node_heartbeats.confidence_hist`: the heartbeat's confidence histogram, packed, so the job can sum it
 *   (until now it went to the rollups only).
 * - A BRIN index on `received_at`: the job and the readers of the not-yet-rolled-up tail select rows by the
 *   time of receipt, which the partitioning (on the node's `sent_at`) does not prune; BRIN costs ingest
 *   next to nothing because rows arrive in receipt order. Small ranges, summarized as they fill (and by the
 *   job each run): VACUUM alone leaves the newest pages, the ones the tail is in, unsummarized.
 *   Building it takes a SHARE lock on each partition for one scan: ingest waits (and buffers) meanwhile.
 * - `rollup_watermarks`: everything received before `until` is in the rollups; the rest is read from the
 *   heartbeats. It starts at the time of this migration: older heartbeats were rolled up at ingest.
 */
export class HeartbeatRollupJob1764770000000 implements MigrationInterface {
  name = 'HeartbeatRollupJob1764770000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "node_heartbeats" ADD "confidence_hist" numeric`);
    await db.query(`CREATE INDEX "node_heartbeats_received_at_brin_idx" ON "node_heartbeats" USING brin ("received_at") WITH (pages_per_range = 16, autosummarize = on)`);
    await db.query(`CREATE TABLE "rollup_watermarks" ("name" character varying(32) NOT NULL, "until" TIMESTAMP WITH TIME ZONE NOT NULL,
                      CONSTRAINT "rollup_watermarks_pkey" PRIMARY KEY ("name"))`);
    await db.query(`INSERT INTO "rollup_watermarks" ("name", "until") VALUES ('heartbeats', clock_timestamp())`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE "rollup_watermarks"`);
    await db.query(`DROP INDEX "node_heartbeats_received_at_brin_idx"`);
    await db.query(`ALTER TABLE "node_heartbeats" DROP COLUMN "confidence_hist"`);
  }
}
