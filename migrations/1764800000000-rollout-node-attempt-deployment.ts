import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `rollout_nodes.attempt_deployment_id`: the deployment of a node's latest attempt at the rollout's
 * version. `deployment_id` moves on to the revert's deployment when the rollout is rolled back; what the
 * node did with the version (its shadow run's figures) stays readable by key through this one. Filled for
 * rows before it from the node's latest deployment of the rollout's version in the rollout.
 */
export class RolloutNodeAttemptDeployment1764800000000 implements MigrationInterface {
  name = 'RolloutNodeAttemptDeployment1764800000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "rollout_nodes" ADD "attempt_deployment_id" uuid`);
    await db.query(
      `UPDATE rollout_nodes rn
          SET attempt_deployment_id = (SELECT d.id FROM deployment_targets dt JOIN deployments d ON d.id = dt.deployment_id
                                        WHERE dt.node_id = rn.node_id AND d.rollout_id = rn.rollout_id AND d.model_version_id = rn.model_version_id
                                        ORDER BY d.created_at DESC, d.id DESC LIMIT 1)
        WHERE rn.deployment_id IS NOT NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "rollout_nodes" DROP COLUMN "attempt_deployment_id"`);
  }
}
