import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each heartbeat keeps the model name, version and variant the node reported, not only its digest.
 * Identical bytes can be deployed as several versions, so the rollout health gates could not tell a
 * canary on the new version from the control group on the old one by `model_sha256`. The text is stored
 * as reported (no lookup on the COPY ingest path); the gates match it to registered versions when they
 * read. Heartbeats stored before this keep nulls (their digest is all they have).
 */
export class HeartbeatModelVersion1764410000000 implements MigrationInterface {
  name = 'HeartbeatModelVersion1764410000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "node_heartbeats" ADD "model_name" character varying(200)`);
    await db.query(`ALTER TABLE "node_heartbeats" ADD "model_version" character varying(200)`);
    await db.query(`ALTER TABLE "node_heartbeats" ADD "model_variant" character varying(200)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "node_heartbeats" DROP COLUMN "model_variant"`);
    await db.query(`ALTER TABLE "node_heartbeats" DROP COLUMN "model_version"`);
    await db.query(`ALTER TABLE "node_heartbeats" DROP COLUMN "model_name"`);
  }
}
