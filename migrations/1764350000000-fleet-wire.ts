import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the MQTT gateway needs: signed manifests and release sequence on model versions, deployments and
 * their targets, and the node-reported telemetry (heartbeats, results, deployment status), each keyed
 * by (node_id, seq) so QoS 1 redelivery is stored once.
 */
export class FleetWire1764350000000 implements MigrationInterface {
  name = 'FleetWire1764350000000';

  async up(db: QueryRunner): Promise<void> {
    // Versions uploaded before signing existed get sequence 0 and an empty manifest: they cannot be deployed.
    await db.query(`ALTER TABLE "model_versions" ADD "sequence" bigint NOT NULL DEFAULT 0`);
    await db.query(`ALTER TABLE "model_versions" ALTER COLUMN "sequence" DROP DEFAULT`);
    await db.query(`ALTER TABLE "model_versions" ADD "manifest" jsonb NOT NULL DEFAULT '{}'`);
    await db.query(`ALTER TABLE "model_versions" ALTER COLUMN "manifest" DROP DEFAULT`);
    await db.query(`ALTER TABLE "nodes" ADD "agent_version" character varying(50)`);

    await db.query(`
      CREATE TYPE "public"."deployment_state" AS ENUM('received', 'downloading', 'downloaded', 'verified', 'staged',
        'self-tested', 'activated', 'committed', 'failed', 'rolled-back', 'rejected')`);

    await db.query(`
      CREATE TABLE "deployments" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "model_version_id" uuid NOT NULL,
        "chunk_size" integer NOT NULL,
        "created_by" character varying(200) NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "deployments_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "deployments_model_version_id_fkey" FOREIGN KEY ("model_version_id")
          REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE NO ACTION)`);
    await db.query(`
      CREATE TABLE "deployment_targets" (
        "deployment_id" uuid NOT NULL,
        "node_id" uuid NOT NULL,
        "state" "public"."deployment_state",
        "state_seq" bigint,
        "reason" character varying(50),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "deployment_targets_pkey" PRIMARY KEY ("deployment_id", "node_id"),
        CONSTRAINT "deployment_targets_deployment_id_fkey" FOREIGN KEY ("deployment_id")
          REFERENCES "deployments"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
        CONSTRAINT "deployment_targets_node_id_fkey" FOREIGN KEY ("node_id")
          REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await db.query(`CREATE INDEX "deployment_targets_node_id_idx" ON "deployment_targets" ("node_id")`);

    await db.query(`
      CREATE TABLE "deployment_status_events" (
        "node_id" uuid NOT NULL,
        "seq" bigint NOT NULL,
        "deployment_id" uuid NOT NULL,
        "state" "public"."deployment_state" NOT NULL,
        "progress" real,
        "reason" character varying(50),
        "detail" text,
        "sent_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "deployment_status_events_pkey" PRIMARY KEY ("node_id", "seq"),
        CONSTRAINT "deployment_status_events_node_id_fkey" FOREIGN KEY ("node_id")
          REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await db.query(`CREATE INDEX "deployment_status_events_deployment_id_node_id_idx" ON "deployment_status_events" ("deployment_id", "node_id")`);

    await db.query(`
      CREATE TABLE "node_heartbeats" (
        "node_id" uuid NOT NULL,
        "seq" bigint NOT NULL,
        "sent_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "model_sha256" character(64),
        "uptime_s" bigint NOT NULL,
        "cpu" real NOT NULL,
        "mem_mb" integer NOT NULL,
        "free_disk_mb" integer NOT NULL,
        "inferences" bigint NOT NULL,
        "errors" bigint NOT NULL,
        "latency_p50_ms" real,
        "latency_p99_ms" real,
        CONSTRAINT "node_heartbeats_pkey" PRIMARY KEY ("node_id", "seq"),
        CONSTRAINT "node_heartbeats_node_id_fkey" FOREIGN KEY ("node_id")
          REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);

    await db.query(`
      CREATE TABLE "inference_results" (
        "node_id" uuid NOT NULL,
        "seq" bigint NOT NULL,
        "at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "model_sha256" character(64) NOT NULL,
        "input_ref" character varying(200),
        "top_class" integer NOT NULL,
        "confidence" real NOT NULL,
        "latency_ms" real NOT NULL,
        "output" jsonb,
        "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "inference_results_pkey" PRIMARY KEY ("node_id", "seq"),
        CONSTRAINT "inference_results_node_id_fkey" FOREIGN KEY ("node_id")
          REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE "inference_results"`);
    await db.query(`DROP TABLE "node_heartbeats"`);
    await db.query(`DROP TABLE "deployment_status_events"`);
    await db.query(`DROP TABLE "deployment_targets"`);
    await db.query(`DROP TABLE "deployments"`);
    await db.query(`DROP TYPE "public"."deployment_state"`);
    await db.query(`ALTER TABLE "nodes" DROP COLUMN "agent_version"`);
    await db.query(`ALTER TABLE "model_versions" DROP COLUMN "manifest"`);
    await db.query(`ALTER TABLE "model_versions" DROP COLUMN "sequence"`);
  }
}
