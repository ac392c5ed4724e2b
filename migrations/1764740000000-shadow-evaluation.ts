import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Shadow evaluation (issue 15).
 *
 * - `deployments.shadow`: the shadow order its desired states carry (`{"sampleRate": r}`); null: none.
 * - `deployment_targets.shadow_decision`: the control plane's decision for that node (`activate` or
 *   `abandon`), signed into the node's desired state; null while the node shadows.
 * - `shadow_reports`: the latest shadow report (by `seq`) of each node for each deployment.
 */
export class ShadowEvaluation1764740000000 implements MigrationInterface {
  name = 'ShadowEvaluation1764740000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "deployments" ADD "shadow" jsonb`);
    await db.query(`ALTER TABLE "deployment_targets" ADD "shadow_decision" character varying(16)`);
    await db.query(`
      CREATE TABLE "shadow_reports" (
        "deployment_id" uuid NOT NULL,
        "node_id" uuid NOT NULL,
        "seq" bigint NOT NULL,
        "sha256" character varying(64) NOT NULL,
        "started_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "samples" integer NOT NULL,
        "agreed" integer NOT NULL,
        "errors" integer NOT NULL,
        "skipped" integer NOT NULL,
        "mean_divergence" real NOT NULL,
        "mean_abs_diff" real NOT NULL,
        "active_latency_ms" real NOT NULL,
        "candidate_latency_ms" real NOT NULL,
        "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "shadow_reports_pkey" PRIMARY KEY ("deployment_id", "node_id"),
        CONSTRAINT "shadow_reports_deployment_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "deployments"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
        CONSTRAINT "shadow_reports_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE "shadow_reports"`);
    await db.query(`ALTER TABLE "deployment_targets" DROP COLUMN "shadow_decision"`);
    await db.query(`ALTER TABLE "deployments" DROP COLUMN "shadow"`);
  }
}
