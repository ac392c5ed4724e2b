import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Feedback awaiting its result (issue 12): a label for an `inputRef` no stored result has, held while the
 * control plane asks the nodes that may keep the result (results policy `sample` or `aggregates`) to send
 * it. When the result is stored, ingest joins the label to it (an `inference_feedback` row); rows expire
 * after `expires_at` (the nodes' default keeping time). `node_id` null: whichever node answers.
 */
export class PendingFeedback1764721000000 implements MigrationInterface {
  name = 'PendingFeedback1764721000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE "pending_feedback" (
        "id" bigserial NOT NULL,
        "node_id" uuid,
        "input_ref" character varying(200) NOT NULL,
        "label" integer NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "pending_feedback_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "pending_feedback_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await db.query(`CREATE INDEX "pending_feedback_input_ref_idx" ON "pending_feedback" ("input_ref")`);
    await db.query(`CREATE INDEX "pending_feedback_expires_at_idx" ON "pending_feedback" ("expires_at")`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE "pending_feedback"`);
  }
}
