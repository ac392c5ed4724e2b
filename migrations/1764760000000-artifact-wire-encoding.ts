import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Compressed wire encoding of artifacts (issue 15, docs/protocol.md#artifact-encoding).
 *
 * - `model_versions.wire_encoding`: the content encoding its artifact travels in (`gzip`); null: as is.
 * - `model_versions.wire_sha256`: the encoded blob in the artifact store (its own `artifacts` row), what is
 *   chunked, repaired and downloaded; `artifact_sha256` stays the decoded model. Null when not encoded.
 */
export class ArtifactWireEncoding1764760000000 implements MigrationInterface {
  name = 'ArtifactWireEncoding1764760000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "model_versions" ADD "wire_encoding" character varying(16)`);
    await db.query(`ALTER TABLE "model_versions" ADD "wire_sha256" character(64)`);
    await db.query(`
      ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_wire_sha256_fkey" FOREIGN KEY ("wire_sha256")
        REFERENCES "artifacts"("sha256") ON DELETE RESTRICT ON UPDATE NO ACTION`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "model_versions" DROP CONSTRAINT "model_versions_wire_sha256_fkey"`);
    await db.query(`ALTER TABLE "model_versions" DROP COLUMN "wire_sha256"`);
    await db.query(`ALTER TABLE "model_versions" DROP COLUMN "wire_encoding"`);
  }
}
