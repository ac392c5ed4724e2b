import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `deployment_targets.shadow_abandon_cause`: why a node was told to abandon a shadowed candidate (`gate`,
 * `stopped`, `timeout`), signed beside the decision so the node can say `cancelled` for a rollout an
 * operator stopped instead of `shadow-failed`. Null for `activate`, no decision, and rows before it.
 */
export class ShadowAbandonCause1764790000000 implements MigrationInterface {
  name = 'ShadowAbandonCause1764790000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "deployment_targets" ADD "shadow_abandon_cause" character varying(16)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "deployment_targets" DROP COLUMN "shadow_abandon_cause"`);
  }
}
