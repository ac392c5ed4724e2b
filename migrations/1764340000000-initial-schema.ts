import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Registry of nodes and models, content-addressed artifacts, admin API keys and the audit log. */
export class InitialSchema1764340000000 implements MigrationInterface {
  name = 'InitialSchema1764340000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TYPE "public"."api_role" AS ENUM('viewer', 'operator', 'admin')`);
    await db.query(`
      CREATE TABLE "api_keys" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "name" character varying(100) NOT NULL,
        "role" "public"."api_role" NOT NULL,
        "key_hash" character(64) NOT NULL,
        "key_prefix" character varying(16) NOT NULL,
        "created_by" character varying(200) NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "revoked_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "api_keys_key_hash_key" UNIQUE ("key_hash"),
        CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id"))`);

    await db.query(`
      CREATE TABLE "artifacts" (
        "sha256" character(64) NOT NULL,
        "size_bytes" bigint NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "artifacts_pkey" PRIMARY KEY ("sha256"))`);

    await db.query(`
      CREATE TABLE "audit_events" (
        "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
        "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "actor" character varying(200) NOT NULL,
        "action" character varying(100) NOT NULL,
        "target_type" character varying(50) NOT NULL,
        "target_id" character varying(200) NOT NULL,
        "details" jsonb NOT NULL DEFAULT '{}',
        CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id"))`);
    await db.query(`CREATE INDEX "audit_events_at_idx" ON "audit_events" ("at")`);
    await db.query(`CREATE INDEX "audit_events_target_type_target_id_idx" ON "audit_events" ("target_type", "target_id")`);

    await db.query(`
      CREATE TABLE "models" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "name" character varying(100) NOT NULL,
        "task" character varying(50) NOT NULL,
        "description" text NOT NULL DEFAULT '',
        "input_spec" jsonb NOT NULL,
        "output_spec" jsonb NOT NULL,
        "class_labels" jsonb NOT NULL DEFAULT '[]',
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "models_name_key" UNIQUE ("name"),
        CONSTRAINT "models_pkey" PRIMARY KEY ("id"))`);

    await db.query(`CREATE TYPE "public"."model_format" AS ENUM('onnx', 'tflite', 'tfjs')`);
    await db.query(`CREATE TYPE "public"."inference_engine" AS ENUM('onnxruntime', 'litert', 'tfjs')`);
    await db.query(`
      CREATE TABLE "model_versions" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "model_id" uuid NOT NULL,
        "version" character varying(64) NOT NULL,
        "variant" character varying(32) NOT NULL,
        "format" "public"."model_format" NOT NULL,
        "engine" "public"."inference_engine" NOT NULL,
        "artifact_sha256" character(64) NOT NULL,
        "metrics" jsonb NOT NULL DEFAULT '{}',
        "created_by" character varying(200) NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "model_versions_model_id_version_variant_key" UNIQUE ("model_id", "version", "variant"),
        CONSTRAINT "model_versions_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "model_versions_model_id_fkey" FOREIGN KEY ("model_id")
          REFERENCES "models"("id") ON DELETE RESTRICT ON UPDATE NO ACTION,
        CONSTRAINT "model_versions_artifact_sha256_fkey" FOREIGN KEY ("artifact_sha256")
          REFERENCES "artifacts"("sha256") ON DELETE RESTRICT ON UPDATE NO ACTION)`);

    await db.query(`
      CREATE TABLE "enrollment_tokens" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "name" character varying(100) NOT NULL,
        "token_hash" character(64) NOT NULL,
        "labels" jsonb NOT NULL DEFAULT '{}',
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "max_uses" integer NOT NULL,
        "uses" integer NOT NULL DEFAULT '0',
        "created_by" character varying(200) NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "revoked_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "enrollment_tokens_token_hash_key" UNIQUE ("token_hash"),
        CONSTRAINT "enrollment_tokens_pkey" PRIMARY KEY ("id"))`);

    await db.query(`CREATE TYPE "public"."node_status" AS ENUM('offline', 'online', 'decommissioned')`);
    await db.query(`
      CREATE TABLE "nodes" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "node_key" character varying(200) NOT NULL,
        "name" character varying(100) NOT NULL,
        "labels" jsonb NOT NULL DEFAULT '{}',
        "hardware" jsonb NOT NULL,
        "status" "public"."node_status" NOT NULL DEFAULT 'offline',
        "secret_hash" character(64),
        "enrollment_token_id" uuid,
        "current_model_version_id" uuid,
        "enrolled_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "last_seen_at" TIMESTAMP WITH TIME ZONE,
        "decommissioned_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "nodes_node_key_key" UNIQUE ("node_key"),
        CONSTRAINT "nodes_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "nodes_enrollment_token_id_fkey" FOREIGN KEY ("enrollment_token_id")
          REFERENCES "enrollment_tokens"("id") ON DELETE SET NULL ON UPDATE NO ACTION,
        CONSTRAINT "nodes_current_model_version_id_fkey" FOREIGN KEY ("current_model_version_id")
          REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE NO ACTION)`);
    await db.query(`CREATE INDEX "nodes_status_idx" ON "nodes" ("status")`);
    await db.query(`CREATE INDEX "nodes_current_model_version_id_idx" ON "nodes" ("current_model_version_id")`);
    // Serves label selectors (@> containment and ? key existence). Not declared on the entity: TypeORM
    // cannot express GIN, so the drift test checks for it by name.
    await db.query(`CREATE INDEX "nodes_labels_gin_idx" ON "nodes" USING gin ("labels")`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE "nodes"`);
    await db.query(`DROP TYPE "public"."node_status"`);
    await db.query(`DROP TABLE "enrollment_tokens"`);
    await db.query(`DROP TABLE "model_versions"`);
    await db.query(`DROP TYPE "public"."inference_engine"`);
    await db.query(`DROP TYPE "public"."model_format"`);
    await db.query(`DROP TABLE "models"`);
    await db.query(`DROP TABLE "audit_events"`);
    await db.query(`DROP TABLE "artifacts"`);
    await db.query(`DROP TABLE "api_keys"`);
    await db.query(`DROP TYPE "public"."api_role"`);
  }
}
