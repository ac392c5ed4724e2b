import { type ApiClient, type Schemas, unwrap } from '#api-client';
import type { StreamedEvent } from '../stream/event-stream.js';
import { followEvents, type FollowOptions } from '../stream/follow-events.js';

export type RolloutDetail = Schemas['RolloutDetailDto'];
export type RolloutNode = Schemas['RolloutNodeDto'];

/** What `rollouts watch` draws from: the rollout with its waves and events, and every node of it. */
export interface RolloutSnapshot {
  readonly rollout: RolloutDetail;
  readonly nodes: readonly RolloutNode[];
  /** The stream events this snapshot was read after (none for the first one). */
  readonly events: readonly StreamedEvent[];
}

/** A stream of snapshots; the watch does not care where they come from. */
export type RolloutSource = (id: string, signal: AbortSignal) => AsyncIterable<RolloutSnapshot>;

const PAGE = 1000;

/** Every node of the rollout, read page by page. */
export async function allNodes(api: ApiClient, id: string): Promise<RolloutNode[]> {
  const nodes: RolloutNode[] = [];
  for (let after: string | undefined; ; ) {
    const page = unwrap(await api.GET('/v1/rollouts/{id}/nodes', { params: { path: { id }, query: { limit: PAGE, after } } }));
    nodes.push(...page);
    if (page.length < PAGE) return nodes;
    after = page[page.length - 1]?.nodeId;
  }
}

export async function readRollout(api: ApiClient, id: string): Promise<Omit<RolloutSnapshot, 'events'>> {
  const [rollout, nodes] = await Promise.all([unwrap(await api.GET('/v1/rollouts/{id}', { params: { path: { id } } })), allNodes(api, id)]);
  return { rollout, nodes };
}

export interface StreamSourceOptions {
  /** Where reconnect notes go (stderr): the watch says when it lost the stream and when it resumed. */
  readonly note: (text: string) => void;
  readonly follow?: Omit<FollowOptions, 'filter' | 'signal'>;
  /** Read again after this long without events (default REFRESH_MS). */
  readonly refreshMs?: number;
}

/**
 * Nodes move through their phases (downloading, shadowing, soaking) without rollout events: a quiet
 * stream is no sign that nothing changed, so the rollout is read again after this long without events.
 */
export const REFRESH_MS = 5000;

/** Resolves `'refresh'` after `ms`, or never once `signal` aborts (the timer is cleared then). */
function refreshAfter(ms: number, signal: AbortSignal): Promise<'refresh'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('refresh'), ms);
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  });
}

/**
 * Live from GET /v1/events/stream?rollout=ID: the first snapshot is read once the stream is open (the
 * server has subscribed, so no change after the read is missed), then one per batch of the rollout's
 * events and one after each REFRESH_MS without events (nodes' phases change without rollout events),
 * read from REST so the view is the stored state, not a replay of events. A dropped connection
 * is resumed with Last-Event-ID: the server replays what was stored meanwhile and each replayed batch
 * causes a read, so nothing is missed without re-reading on reconnect (which would also swallow the very
 * events the watch prints and ends on).
 */
export function streamSource(api: ApiClient, options: StreamSourceOptions): RolloutSource {
  return async function* live(id, signal) {
    // The stream's next item is awaited across refreshes, so it may be pending when the watch ends: this
    // signal then ends the stream (its reader is cancelled) instead of leaving the connection open.
    const local = new AbortController();
    const forward = () => local.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    const items = followEvents(api, { ...options.follow, filter: { rollout: id }, signal: local.signal });
    let next = items.next();
    let opened = false;
    try {
      for (;;) {
        const quiet = new AbortController();
        const first = await Promise.race([next, refreshAfter(options.refreshMs ?? REFRESH_MS, quiet.signal)]);
        quiet.abort();
        if (first === 'refresh') {
          if (opened && !signal.aborted) yield { ...(await readRollout(api, id)), events: [] };
          continue;
        }
        if (first.done) return;
        next = items.next();
        const item = first.value;
        if (item.kind === 'dropped') {
          const reason = item.error instanceof Error ? item.error.message : String(item.error);
          options.note(`event stream dropped (${reason}); reconnecting in ${(item.retryInMs / 1000).toFixed(1)} s`);
        } else if (item.kind === 'open') {
          opened = true;
          // Read on the first connection, and on a reconnect without a position to resume from (a server
          // that never sent an id): there the events in between are not replayed.
          if (item.resumedAfter === null) yield { ...(await readRollout(api, id)), events: [] };
          else options.note(`event stream resumed after event ${item.resumedAfter}`);
        } else yield { ...(await readRollout(api, id)), events: item.events };
      }
    } finally {
      signal.removeEventListener('abort', forward);
      local.abort();
      next.catch(() => undefined);
      void items.return(undefined).catch(() => undefined);
    }
  };
}
