import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Results policy (issue 12): what of a model's inference results its nodes send — `{"mode":"all"}`,
 * `{"mode":"sample","rate":r}` or `{"mode":"aggregates"}`. On a model it is the default for its
 * versions; on a rollout it overrides the model's for the rollout's deployments. NULL: no policy set
 * (on a model that means `all`, as before this column; on a rollout, the model's).
 */
export class ResultsPolicy1764600000000 implements MigrationInterface {
  name = 'ResultsPolicy1764600000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "models" ADD "results_policy" jsonb`);
    await db.query(`ALTER TABLE "rollouts" ADD "results_policy" jsonb`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "rollouts" DROP COLUMN "results_policy"`);
    await db.query(`ALTER TABLE "models" DROP COLUMN "results_policy"`);
  }
}
