import { replacesDeploymentState, type StatusMessage } from '#protocol';

export interface NodeStatus {
  readonly nodeId: string;
  readonly message: StatusMessage;
}

/**
 * The one status per (node, deployment) that a batch leaves on the target: the batch's statuses applied
 * in seq order under the terminal-state rule (`replacesDeploymentState`), as if they had arrived one by
 * one. Without it, the newest status of a batch won — a `committed` and a later `rejected` flushed
 * together left `rejected`. The database applies the result under the same rule. Pure.
 */
export function targetStatuses<T extends NodeStatus>(batch: readonly T[]): T[] {
  const ordered = [...batch].sort((a, b) => a.message.seq - b.message.seq);
  const kept = new Map<string, T>();
  for (const status of ordered) {
    const key = `${status.nodeId}/${status.message.deploymentId}`;
    const current = kept.get(key);
    if (!current || replacesDeploymentState(current.message.state, status.message.state)) kept.set(key, status);
  }
  return [...kept.values()];
}
