import type { EntityManager } from 'typeorm';
import { FINAL_ROLLOUT_STATES } from '../rollouts/rollout.entity.js';

/**
 * Why the model versions `ids` cannot be deleted, or undefined when nothing needs them. Checked inside
 * the deleting transaction, after the versions' rows are locked:
 * - a rollout that has not finished names one of them (deleting it would leave the rollout unstartable);
 * - a deployment or a rollout's node history refers to one (the history must stay readable, and the
 *   foreign keys would refuse the delete anyway).
 */
export async function versionDeleteBlocker(tx: EntityManager, ids: readonly string[]): Promise<string | undefined> {
  const rollouts = (await tx.query(
    `SELECT name, state FROM rollouts
      WHERE state <> ALL($2::rollout_state[])
        AND EXISTS (SELECT 1 FROM jsonb_array_elements(variants) rule WHERE rule->>'modelVersionId' = ANY($1::text[]))
      ORDER BY created_at LIMIT 3`,
    [ids, FINAL_ROLLOUT_STATES],
  )) as { name: string; state: string }[];
  if (rollouts.length > 0) {
    const named = rollouts.map((r) => `'${r.name}' (${r.state})`).join(', ');
    return `rollouts that have not finished name it: ${named}; abort or finish them first`;
  }
  const [history] = (await tx.query(
    `SELECT (SELECT count(*) FROM deployments WHERE model_version_id = ANY($1::uuid[]))::int AS deployments,
            (SELECT count(*) FROM rollout_nodes WHERE model_version_id = ANY($1::uuid[]))::int AS rollout_nodes`,
    [ids],
  )) as { deployments: number; rollout_nodes: number }[];
  if (history && (history.deployments > 0 || history.rollout_nodes > 0)) {
    return `it has deployment history (${history.deployments} deployment(s), ${history.rollout_nodes} rollout target(s)), which is kept readable`;
  }
  return undefined;
}
