import { ApiProblemError, type ApiClient } from '#api-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, ExitCode } from '../exit-codes.js';
import { connectEventStream, type StreamedEvent, type StreamFilter, StreamDataError } from './event-stream.js';

/**
 * What following the stream gives: `open` each time a connection is up (`resumedAfter` is the id the
 * server replays after, null on the first one), the events as they arrive (those of one read together), and `dropped` with the wait before the next try.
 */
export type FollowItem =
  | { readonly kind: 'open'; readonly resumedAfter: string | null }
  | { readonly kind: 'events'; readonly events: readonly StreamedEvent[] }
  | { readonly kind: 'dropped'; readonly error: unknown; readonly retryInMs: number };

export interface ReconnectPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Give up (exit 6, with the last error as the cause) after failing to connect for this long in a row. */
  readonly giveUpAfterMs: number;
}

/** Capped exponential backoff: a control plane restart is ridden out without hammering it. */
export const DEFAULT_RECONNECT: ReconnectPolicy = { initialMs: 250, maxMs: 10_000, giveUpAfterMs: 5 * 60_000 };
/** Three default heartbeats (EVENTS_HEARTBEAT_MS = 15 s): a quieter connection is presumed dead. */
export const DEFAULT_IDLE_MS = 45_000;

/** The wait before reconnect attempt `attempt` (0-based): doubling, capped, with jitter in [½, 1] so clients spread out. */
export function reconnectDelay(attempt: number, policy: ReconnectPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Refusals a reconnect cannot fix (a bad filter, a revoked key) end the follow; the rest are retried. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ApiProblemError) return error.status >= 500 || error.status === 429;
  return !(error instanceof StreamDataError);
}

export interface FollowOptions {
  readonly filter: StreamFilter;
  readonly signal: AbortSignal;
  readonly idleMs?: number;
  readonly reconnect?: ReconnectPolicy;
}

/**
 * Follows GET /v1/events/stream across dropped connections: each reconnect sends the last id seen as
 * Last-Event-ID, so the server replays what was stored meanwhile and no event is lost or repeated. The
 * first connection must succeed (its failure is thrown: a wrong URL or key is reported at once); later
 * failures are retried with backoff until `giveUpAfterMs` passes without a connection.
 */
export async function* followEvents(api: ApiClient, options: FollowOptions): AsyncGenerator<FollowItem> {
  const policy = options.reconnect ?? DEFAULT_RECONNECT;
  let position: string | null = null;
  let connected = false;
  let attempt = 0;
  let failingSince: number | undefined;
  while (!options.signal.aborted) {
    const startedAt = Date.now();
    let progressed = false;
    try {
      for await (const item of connectEventStream(api, { filter: options.filter, lastEventId: position, idleMs: options.idleMs ?? DEFAULT_IDLE_MS, signal: options.signal })) {
        if (item.kind === 'open') {
          yield { kind: 'open', resumedAfter: connected ? position : null };
          connected = true;
          failingSince = undefined;
        } else {
          position = item.position ?? position;
          if (item.events.length === 0) continue;
          progressed = true;
          yield { kind: 'events', events: item.events };
        }
      }
    } catch (error) {
      if (options.signal.aborted) return;
      if (!connected || !isRetryable(error)) throw error;
      // A connection that delivered events or stayed up a while was healthy: start the backoff again.
      if (progressed || Date.now() - startedAt >= policy.maxMs) attempt = 0;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > policy.giveUpAfterMs) {
        throw new CliError(`lost the event stream and could not resume it for ${Math.round(policy.giveUpAfterMs / 1000)} s`, ExitCode.unreachable, 'check that the control plane is up (GET /health)', { cause: error });
      }
      const retryInMs = reconnectDelay(attempt++, policy);
      yield { kind: 'dropped', error, retryInMs };
      await sleep(retryInMs, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }
}
