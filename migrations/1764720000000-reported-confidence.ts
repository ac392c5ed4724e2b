import type { MigrationInterface, QueryRunner } from 'typeorm';

const ROLLUP_TABLES = ['model_version_rollups', 'model_version_hourly_rollups'] as const;

/**
 * Confidence as the nodes report it (issue 12): heartbeats carry a histogram of every successful
 * inference's top-class confidence and their sum, whatever the results policy sends.
 *
 * - `node_heartbeats.confidences` / `confidence_sum`: the heartbeat's count and sum (what the rollout's
 *   confidence gate reads); null from agents without it. The histogram itself goes to the rollups only:
 *   storing its packed numeric on every heartbeat row cost heartbeat ingest 20–50% (bench/model-stats).
 * - `reported_confidences` / `reported_confidence_sum` / `reported_confidence_hist` on both rollup tiers:
 *   the same summed at ingest, beside (not into) the confidence of stored results, so a node that both
 *   reports and sends all its results is not counted twice: the stats route reads a node's reported
 *   confidence when it has any in the window, its results' otherwise.
 */
export class ReportedConfidence1764720000000 implements MigrationInterface {
  name = 'ReportedConfidence1764720000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "node_heartbeats" ADD "confidences" bigint, ADD "confidence_sum" double precision`);
    for (const table of ROLLUP_TABLES) {
      await db.query(
        `ALTER TABLE "${table}" ADD "reported_confidences" bigint NOT NULL DEFAULT 0, ADD "reported_confidence_sum" double precision NOT NULL DEFAULT 0,
                                ADD "reported_confidence_hist" numeric NOT NULL DEFAULT 0`,
      );
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ROLLUP_TABLES) {
      await db.query(`ALTER TABLE "${table}" DROP COLUMN "reported_confidence_hist", DROP COLUMN "reported_confidence_sum", DROP COLUMN "reported_confidences"`);
    }
    await db.query(`ALTER TABLE "node_heartbeats" DROP COLUMN "confidence_sum", DROP COLUMN "confidences"`);
  }
}
