import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sequences are issued when a version is signed for deployment, from a per-model counter taken under
 * the model's row lock (`models.last_sequence`); an upload no longer draws one. Deployment targets keep
 * when their retained desired state expires (so a job can re-sign it first) and the progress and detail
 * text of the node's latest status (so the API can say why a node failed).
 */
export class DeployTimeSequence1764380000000 implements MigrationInterface {
  name = 'DeployTimeSequence1764380000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "models" ADD "last_sequence" bigint NOT NULL DEFAULT '0'`);
    await db.query(`UPDATE "models" m SET "last_sequence" = COALESCE((SELECT MAX(sequence) FROM "model_versions" mv WHERE mv.model_id = m.id), 0)`);
    await db.query(`ALTER TABLE "deployment_targets" ADD "desired_expires_at" TIMESTAMP WITH TIME ZONE`);
    await db.query(`ALTER TABLE "deployment_targets" ADD "progress" real`);
    await db.query(`ALTER TABLE "deployment_targets" ADD "detail" text`);
    await db.query(`ALTER TABLE "deployments" ADD "activation_window" jsonb`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "deployments" DROP COLUMN "activation_window"`);
    await db.query(`ALTER TABLE "deployment_targets" DROP COLUMN "detail"`);
    await db.query(`ALTER TABLE "deployment_targets" DROP COLUMN "progress"`);
    await db.query(`ALTER TABLE "deployment_targets" DROP COLUMN "desired_expires_at"`);
    await db.query(`ALTER TABLE "models" DROP COLUMN "last_sequence"`);
  }
}
