import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Attestation (issue 11). `attestation_nonces` holds one nonce per epoch of ATTESTATION_NONCE_SECONDS:
 * replicas agree on it through the primary key (the first to insert an epoch's row wins). Each node keeps
 * the verdict of its latest attestation report: what its engine loaded, when, and whether that is what
 * it was assigned.
 */
export class Attestation1764490000000 implements MigrationInterface {
  name = 'Attestation1764490000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE "attestation_nonces" (
        "epoch" bigint NOT NULL,
        "nonce" character varying(64) NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "attestation_nonces_pkey" PRIMARY KEY ("epoch"))`);
    await db.query(`ALTER TABLE "nodes" ADD "attestation" character varying(16)`);
    await db.query(`ALTER TABLE "nodes" ADD "attested_sha256" character(64)`);
    await db.query(`ALTER TABLE "nodes" ADD "attested_at" TIMESTAMP WITH TIME ZONE`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "nodes" DROP COLUMN "attested_at"`);
    await db.query(`ALTER TABLE "nodes" DROP COLUMN "attested_sha256"`);
    await db.query(`ALTER TABLE "nodes" DROP COLUMN "attestation"`);
    await db.query(`DROP TABLE "attestation_nonces"`);
  }
}
