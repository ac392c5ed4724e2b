import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Node identity (issue 11, hole 3). Nodes register an Ed25519 public key and prove possession of it to
 * re-enrol (`enrollment_challenges` holds the hashed, single-use nonces); an admin's identity reset issues
 * a token bound to one node (`enrollment_tokens.node_id`). Node keys were readable by viewers: they are
 * scrubbed from the audit log, and names that defaulted to the node key are replaced.
 *
 * Nodes enrolled before this have no public key: they keep working, and re-enrol only after a reset.
 * `down()` cannot bring back the scrubbed node keys and renamed names (they were the leak).
 */
export class NodeIdentity1764420000000 implements MigrationInterface {
  name = 'NodeIdentity1764420000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "nodes" ADD "public_key" character varying(200)`);
    await db.query(`ALTER TABLE "enrollment_tokens" ADD "node_id" uuid`);
    await db.query(`
      ALTER TABLE "enrollment_tokens" ADD CONSTRAINT "enrollment_tokens_node_id_fkey" FOREIGN KEY ("node_id")
        REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await db.query(`
      CREATE TABLE "enrollment_challenges" (
        "nonce_hash" character(64) NOT NULL,
        "node_id" uuid NOT NULL,
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "enrollment_challenges_pkey" PRIMARY KEY ("nonce_hash"),
        CONSTRAINT "enrollment_challenges_node_id_fkey" FOREIGN KEY ("node_id")
          REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await db.query(`CREATE INDEX "enrollment_challenges_node_id_idx" ON "enrollment_challenges" ("node_id")`);
    // Node keys leaked through the audit log (`node.enroll` details) and through names that defaulted to them.
    await db.query(`UPDATE "audit_events" SET "details" = "details" - 'nodeKey' WHERE "details" ? 'nodeKey'`);
    await db.query(`UPDATE "nodes" SET "name" = 'node-' || left("id"::text, 8) WHERE "name" = left("node_key", 100)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE "enrollment_challenges"`);
    await db.query(`ALTER TABLE "enrollment_tokens" DROP CONSTRAINT "enrollment_tokens_node_id_fkey"`);
    await db.query(`ALTER TABLE "enrollment_tokens" DROP COLUMN "node_id"`);
    await db.query(`ALTER TABLE "nodes" DROP COLUMN "public_key"`);
  }
}
