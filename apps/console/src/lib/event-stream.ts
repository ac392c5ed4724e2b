import type { Schemas } from '#api-client';
import { EventSourceParserStream } from 'eventsource-parser/stream';

export type FleetEvent = Schemas['EventDto'];

export interface StreamFilter {
  readonly types?: readonly string[];
  readonly rollout?: string;
  readonly node?: string;
  /** Replay what came after this event id first (a page just listed), so the seam loses nothing. */
  readonly after?: string;
}

export interface StreamHandlers {
  readonly onEvent: (event: FleetEvent) => void;
  /** Live (true) after each (re)connection, not live (false) while reconnecting. */
  readonly onStatus?: (live: boolean) => void;
}

// Bounds on what one SSE frame may make us keep: the server's events are small JSON documents.
const MAX_DATA_CHARS = 256 * 1024;
const MAX_BACKOFF_MS = 15_000;

function streamUrl(filter: StreamFilter): string {
  const params = new URLSearchParams();
  if (filter.types?.length) params.set('type', filter.types.join(','));
  if (filter.rollout) params.set('rollout', filter.rollout);
  if (filter.node) params.set('node', filter.node);
  const query = params.toString();
  return `/v1/events/stream${query ? `?${query}` : ''}`;
}

function parseEvent(data: string): FleetEvent | null {
  if (data.length > MAX_DATA_CHARS) return null;
  try {
    const value = JSON.parse(data) as Partial<FleetEvent>;
    return typeof value.id === 'string' && typeof value.type === 'string' ? (value as FleetEvent) : null;
  } catch {
    return null;
  }
}

/**
 * Follows `GET /v1/events/stream`. EventSource cannot send the Authorization header the API wants (and a
 * key in the URL would land in logs and history), so this reads the stream with fetch and parses SSE
 * with eventsource-parser. On a drop it reconnects with Last-Event-ID after a capped backoff, so no event
 * is lost or repeated. Returns the function that stops it.
 */
export function followEvents(apiKey: string, filter: StreamFilter, handlers: StreamHandlers): () => void {
  const abort = new AbortController();
  let lastId: string | undefined = filter.after;
  let failures = 0;
  const connect = async (): Promise<void> => {
    const headers: Record<string, string> = { Authorization: `Bearer ${apiKey}`, Accept: 'text/event-stream' };
    if (lastId) headers['Last-Event-ID'] = lastId;
    const response = await fetch(streamUrl(filter), { headers, signal: abort.signal, cache: 'no-store' });
    if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}`);
    failures = 0;
    handlers.onStatus?.(true);
    const frames = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    for await (const frame of frames) {
      const event = parseEvent(frame.data);
      if (!event) continue;
      lastId = event.id;
      handlers.onEvent(event);
    }
  };
  const loop = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      try {
        await connect();
      } catch {
        // Aborted on purpose, or a network/HTTP failure: both end here; the loop condition tells them apart.
      }
      if (abort.signal.aborted) return;
      handlers.onStatus?.(false);
      failures++;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures, 5)));
        abort.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  };
  void loop();
  return () => abort.abort();
}
