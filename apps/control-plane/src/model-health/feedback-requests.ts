import { MAX_REQUESTED_RESULTS } from '#protocol';

/** The most nodes one feedback request asks for kept results: a label without a node goes to each node that served the version. */
export const MAX_FEEDBACK_REQUEST_NODES = 50;

export interface UnmatchedItem {
  /** The item's position in the request. */
  readonly position: number;
  readonly nodeId?: string;
  readonly inputRef: string;
}

export interface FeedbackRequestPlan {
  /** Per node, the input references to ask it for (distinct, at most MAX_REQUESTED_RESULTS: one results request each). */
  readonly byNode: ReadonlyMap<string, readonly string[]>;
  /** Per item position, the nodes that were asked for it. */
  readonly nodesOf: ReadonlyMap<number, readonly string[]>;
}

/**
 * Which nodes to ask for the results of labels that matched nothing stored: the item's node when it
 * names one, else every node that served the version (`servingNodes`, at most
 * MAX_FEEDBACK_REQUEST_NODES of them). One request per node with all its references, never one per
 * item: a batch of 1,000 labels costs each node one message. An item with neither is left out (the
 * caller did not say where its result could be).
 */
export function planFeedbackRequests(items: readonly UnmatchedItem[], servingNodes: readonly string[]): FeedbackRequestPlan {
  const byNode = new Map<string, Set<string>>();
  const nodesOf = new Map<number, string[]>();
  const anyOf = servingNodes.slice(0, MAX_FEEDBACK_REQUEST_NODES);
  for (const item of items) {
    const candidates = item.nodeId !== undefined ? [item.nodeId] : anyOf;
    const asked: string[] = [];
    for (const nodeId of candidates) {
      const refs = byNode.get(nodeId) ?? new Set<string>();
      if (!refs.has(item.inputRef) && refs.size >= MAX_REQUESTED_RESULTS) continue;
      if (!byNode.has(nodeId) && byNode.size >= MAX_FEEDBACK_REQUEST_NODES) continue;
      refs.add(item.inputRef);
      byNode.set(nodeId, refs);
      asked.push(nodeId);
    }
    if (asked.length > 0) nodesOf.set(item.position, asked);
  }
  return { byNode: new Map([...byNode].map(([nodeId, refs]) => [nodeId, [...refs]])), nodesOf };
}
