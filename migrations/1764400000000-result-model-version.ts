import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each inference result names the model version it was served with. Identical bytes can be deployed as
 * several versions, so `model_sha256` alone matched a result to every one of them. Results stored before
 * this keep a null version (their digest is all they have); results never block a version's deletion.
 */
export class ResultModelVersion1764400000000 implements MigrationInterface {
  name = 'ResultModelVersion1764400000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "inference_results" ADD "model_version_id" uuid`);
    await db.query(`CREATE INDEX "inference_results_model_version_id_idx" ON "inference_results" ("model_version_id")`);
    await db.query(`
      ALTER TABLE "inference_results" ADD CONSTRAINT "inference_results_model_version_id_fkey" FOREIGN KEY ("model_version_id")
        REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "inference_results" DROP CONSTRAINT "inference_results_model_version_id_fkey"`);
    await db.query(`DROP INDEX "inference_results_model_version_id_idx"`);
    await db.query(`ALTER TABLE "inference_results" DROP COLUMN "model_version_id"`);
  }
}
