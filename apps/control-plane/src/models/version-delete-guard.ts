/** What still refers to model versions about to be deleted (`ModelsRepository.history`). */
export interface VersionHistory {
  /** Unfinished rollouts that name one of them (a few, for the message). */
  readonly unfinishedRollouts: readonly { readonly name: string; readonly state: string }[];
  readonly deployments: number;
  readonly rolloutNodes: number;
}

/**
 * Why the model versions cannot be deleted, or undefined when nothing needs them. Read inside the
 * deleting transaction, after the versions' rows are locked:
 * - a rollout that has not finished names one of them (deleting it would leave the rollout unstartable);
 * - a deployment or a rollout's node history refers to one (the history must stay readable, and the
 *   foreign keys would refuse the delete anyway).
 */
export function versionDeleteBlocker(history: VersionHistory): string | undefined {
  if (history.unfinishedRollouts.length > 0) {
    const named = history.unfinishedRollouts.map((r) => `'${r.name}' (${r.state})`).join(', ');
    return `rollouts that have not finished name it: ${named}; abort or finish them first`;
  }
  if (history.deployments > 0 || history.rolloutNodes > 0) {
    return `it has deployment history (${history.deployments} deployment(s), ${history.rolloutNodes} rollout target(s)), which is kept readable`;
  }
  return undefined;
}
