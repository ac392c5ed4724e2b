import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Drift (issue 15): a heartbeat carries the node's drift scores (PSI of its recent inputs and top-class
 * confidences against the manifest's reference statistics) and how many inferences they cover. The
 * partial index serves the drift route and event (per model version, recent, only rows that have a
 * score): most heartbeats carry none, so it stays small.
 */
export class HeartbeatDrift1764730000000 implements MigrationInterface {
  name = 'HeartbeatDrift1764730000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "node_heartbeats" ADD "drift_input" real`);
    await db.query(`ALTER TABLE "node_heartbeats" ADD "drift_confidence" real`);
    await db.query(`ALTER TABLE "node_heartbeats" ADD "drift_samples" integer`);
    await db.query(
      `CREATE INDEX "node_heartbeats_drift_idx" ON "node_heartbeats" ("model_name", "model_version", "received_at") WHERE "drift_input" IS NOT NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX "node_heartbeats_drift_idx"`);
    await db.query(`ALTER TABLE "node_heartbeats" DROP COLUMN "drift_samples"`);
    await db.query(`ALTER TABLE "node_heartbeats" DROP COLUMN "drift_confidence"`);
    await db.query(`ALTER TABLE "node_heartbeats" DROP COLUMN "drift_input"`);
  }
}
