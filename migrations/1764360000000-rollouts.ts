import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rollouts: the rollout (strategy, state, waves), its nodes (wave, variant, attempts, outcome, the
 * version each ran before for a fleet rollback) and its event history; deployments name the rollout
 * they belong to.
 */
export class Rollouts1764360000000 implements MigrationInterface {
  name = 'Rollouts1764360000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TYPE "public"."rollout_state" AS ENUM('draft', 'scheduled', 'awaiting-approval', 'running', 'paused', 'halted', 'completed', 'aborted', 'superseded')`);
    await db.query(`
      CREATE TABLE "rollouts" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "name" character varying(200) NOT NULL,
        "model_id" uuid NOT NULL,
        "variants" jsonb NOT NULL,
        "selector" text NOT NULL,
        "strategy" jsonb NOT NULL,
        "state" "public"."rollout_state" NOT NULL DEFAULT 'draft',
        "wave_sizes" jsonb NOT NULL DEFAULT '[]',
        "current_wave" integer NOT NULL DEFAULT '0',
        "bake_until" TIMESTAMP WITH TIME ZONE,
        "scheduled_at" TIMESTAMP WITH TIME ZONE,
        "approved_by" character varying(200),
        "halt_reason" text,
        "tick_seq" integer NOT NULL DEFAULT '0',
        "created_by" character varying(200) NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "started_at" TIMESTAMP WITH TIME ZONE,
        "finished_at" TIMESTAMP WITH TIME ZONE,
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "rollouts_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "rollouts_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE RESTRICT ON UPDATE NO ACTION)`);
    await db.query(`CREATE INDEX "rollouts_state_idx" ON "rollouts" ("state")`);

    await db.query(`
      CREATE TABLE "rollout_events" (
        "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
        "rollout_id" uuid NOT NULL,
        "kind" character varying(50) NOT NULL,
        "actor" character varying(200) NOT NULL,
        "detail" jsonb NOT NULL DEFAULT '{}',
        "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "rollout_events_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "rollout_events_rollout_id_fkey" FOREIGN KEY ("rollout_id") REFERENCES "rollouts"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await db.query(`CREATE INDEX "rollout_events_rollout_id_id_idx" ON "rollout_events" ("rollout_id", "id")`);

    await db.query(
      `CREATE TYPE "public"."rollout_node_state" AS ENUM('pending', 'dispatched', 'retry-wait', 'succeeded', 'failed', 'superseded', 'reverting', 'reverted', 'revert-failed')`,
    );
    await db.query(`
      CREATE TABLE "rollout_nodes" (
        "rollout_id" uuid NOT NULL,
        "node_id" uuid NOT NULL,
        "wave" integer NOT NULL,
        "model_version_id" uuid NOT NULL,
        "previous_model_version_id" uuid,
        "state" "public"."rollout_node_state" NOT NULL DEFAULT 'pending',
        "attempts" integer NOT NULL DEFAULT '0',
        "deployment_id" uuid,
        "published" boolean NOT NULL DEFAULT false,
        "dispatched_at" TIMESTAMP WITH TIME ZONE,
        "deadline_at" TIMESTAMP WITH TIME ZONE,
        "next_attempt_at" TIMESTAMP WITH TIME ZONE,
        "reason" character varying(100),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "rollout_nodes_pkey" PRIMARY KEY ("rollout_id", "node_id"),
        CONSTRAINT "rollout_nodes_rollout_id_fkey" FOREIGN KEY ("rollout_id") REFERENCES "rollouts"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
        CONSTRAINT "rollout_nodes_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
        CONSTRAINT "rollout_nodes_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE NO ACTION,
        CONSTRAINT "rollout_nodes_previous_model_version_id_fkey" FOREIGN KEY ("previous_model_version_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE NO ACTION)`);
    await db.query(`CREATE INDEX "rollout_nodes_node_id_idx" ON "rollout_nodes" ("node_id")`);
    await db.query(`CREATE INDEX "rollout_nodes_rollout_id_wave_state_idx" ON "rollout_nodes" ("rollout_id", "wave", "state")`);

    await db.query(`ALTER TABLE "deployments" ADD "rollout_id" uuid`);
    await db.query(
      `ALTER TABLE "deployments" ADD CONSTRAINT "deployments_rollout_id_fkey" FOREIGN KEY ("rollout_id") REFERENCES "rollouts"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "deployments" DROP CONSTRAINT "deployments_rollout_id_fkey"`);
    await db.query(`ALTER TABLE "deployments" DROP COLUMN "rollout_id"`);
    await db.query(`DROP TABLE "rollout_nodes"`);
    await db.query(`DROP TYPE "public"."rollout_node_state"`);
    await db.query(`DROP TABLE "rollout_events"`);
    await db.query(`DROP TABLE "rollouts"`);
    await db.query(`DROP TYPE "public"."rollout_state"`);
  }
}
