import { type ApiClient, type Schemas, unwrap } from '#api-client';
import { setTimeout as sleep } from 'node:timers/promises';

export type RolloutDetail = Schemas['RolloutDetailDto'];
export type RolloutNode = Schemas['RolloutNodeDto'];

/** What `rollouts watch` draws from: the rollout with its waves and events, and every node of it. */
export interface RolloutSnapshot {
  readonly rollout: RolloutDetail;
  readonly nodes: readonly RolloutNode[];
}

/** A stream of snapshots; the watch does not care where they come from. */
export type RolloutSource = (id: string, signal: AbortSignal) => AsyncIterable<RolloutSnapshot>;

const PAGE = 1000;

async function allNodes(api: ApiClient, id: string): Promise<RolloutNode[]> {
  const nodes: RolloutNode[] = [];
  for (let after: string | undefined; ; ) {
    const page = unwrap(await api.GET('/v1/rollouts/{id}/nodes', { params: { path: { id }, query: { limit: PAGE, after } } }));
    nodes.push(...page);
    if (page.length < PAGE) return nodes;
    after = page[page.length - 1]?.nodeId;
  }
}

/**
 * Polls the rollout and its nodes every `intervalMs`. The one data source of `watch` for now; the event
 * stream (GET /v1/events/stream, being built) can replace it by yielding a snapshot per relevant event.
 */
export function pollingSource(api: ApiClient, intervalMs = 1000): RolloutSource {
  return async function* poll(id, signal) {
    while (!signal.aborted) {
      const [rollout, nodes] = await Promise.all([unwrap(await api.GET('/v1/rollouts/{id}', { params: { path: { id } } })), allNodes(api, id)]);
      yield { rollout, nodes };
      await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  };
}
