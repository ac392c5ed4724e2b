import { type ApiClient, type Schemas, unwrap } from '#api-client';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export type StreamedEvent = Schemas['EventDto'];

/** Which events a stream carries: the filters of GET /v1/events/stream. */
export interface StreamFilter {
  readonly type?: string[];
  readonly rollout?: string;
  readonly node?: string;
}

/**
 * What one connection gives: `open` once the server answered 200 (it has subscribed: nothing stored after
 * this is missed), then per chunk read the events in it and the last SSE id seen (the position to resume
 * after; the server also sends an id alone, its start position, so a connection has one before any event).
 */
export type ConnectionItem =
  | { readonly kind: 'open' }
  | { readonly kind: 'batch'; readonly events: readonly StreamedEvent[]; readonly position: string | null };

/** The stream went quiet for longer than the server's heartbeats allow: the connection is presumed dead. */
export class StreamIdleError extends Error {
  constructor(idleMs: number) {
    super(`no data (not even a heartbeat) for ${idleMs} ms`);
    this.name = 'StreamIdleError';
  }
}

/** The server closed the stream (a restart, a slow-reader cut-off): resume with Last-Event-ID. */
export class StreamEndedError extends Error {
  constructor() {
    super('the control plane closed the event stream');
    this.name = 'StreamEndedError';
  }
}

/** A data line that is not an event: a bug on one side, not something a reconnect fixes. */
export class StreamDataError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StreamDataError';
  }
}

/** One SSE field is at most this long (an event is a few hundred bytes; a payload is bounded server-side). */
const MAX_EVENT_BYTES = 1024 * 1024;

function parseEvent(message: EventSourceMessage): StreamedEvent {
  let value: unknown;
  try {
    value = JSON.parse(message.data);
  } catch (error) {
    throw new StreamDataError(`event ${message.id ?? '?'} carries data that is not JSON`, { cause: error });
  }
  const e = value as Partial<StreamedEvent> | null;
  if (typeof e !== 'object' || e === null || typeof e.id !== 'string' || typeof e.type !== 'string') {
    throw new StreamDataError(`event ${message.id ?? '?'} is not an event (no id or type)`);
  }
  return e as StreamedEvent;
}

export interface ConnectOptions {
  readonly filter: StreamFilter;
  /** Resume after this id: the server replays every stored event after it, then goes live. */
  readonly lastEventId: string | null;
  /** Presume the connection dead after this long without a byte (heartbeats come every EVENTS_HEARTBEAT_MS). */
  readonly idleMs: number;
  readonly signal: AbortSignal;
}

/**
 * One connection to GET /v1/events/stream through the typed client (fetch with the API key header).
 * Yields `open`, then the events and the `id:` positions the server sends. Ends by throwing:
 * StreamEndedError, StreamIdleError, a fetch/body error, or ApiProblemError for a non-2xx answer.
 */
export async function* connectEventStream(api: ApiClient, options: ConnectOptions): AsyncGenerator<ConnectionItem> {
  const local = new AbortController();
  const abort = () => local.abort(options.signal.reason);
  options.signal.addEventListener('abort', abort, { once: true });
  let idle: NodeJS.Timeout | undefined;
  const watchdog = () => {
    clearTimeout(idle);
    idle = setTimeout(() => local.abort(new StreamIdleError(options.idleMs)), options.idleMs);
  };
  try {
    watchdog();
    const headers = options.lastEventId === null ? {} : { 'Last-Event-ID': options.lastEventId };
    const body = unwrap(await api.GET('/v1/events/stream', { params: { query: options.filter, header: headers }, parseAs: 'stream', signal: local.signal }));
    if (!body) throw new StreamEndedError();
    yield { kind: 'open' };
    yield* readItems(body, watchdog, local.signal);
  } catch (error) {
    // An abort by the watchdog surfaces as an AbortError: report why it was aborted.
    throw local.signal.aborted && local.signal.reason instanceof StreamIdleError ? local.signal.reason : error;
  } finally {
    clearTimeout(idle);
    options.signal.removeEventListener('abort', abort);
    local.abort();
  }
}

/**
 * The items of an event stream's body, until `signal` aborts (or the body ends or breaks). The abort is
 * acted on here, by cancelling the reader, not left to fetch: fetch can stop hearing its signal once it
 * has been garbage-collected (nodejs/node#55428), and a watch's `--timeout` then never fired.
 */
export async function* readItems(body: ReadableStream<Uint8Array>, onData: () => void, signal: AbortSignal): AsyncGenerator<ConnectionItem> {
  let events: StreamedEvent[] = [];
  let position: string | null = null;
  let failure: unknown;
  const parser = createParser({
    maxBufferSize: MAX_EVENT_BYTES,
    // Called for every block with an id, with data (an event) or without (the server's start position).
    onId: (id) => (position = id),
    onEvent: (message) => {
      try {
        events.push(parseEvent(message));
      } catch (error) {
        failure ??= error;
      }
    },
    // Unknown fields are ignored as the SSE spec says; an over-long field is a broken stream.
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') failure ??= new StreamDataError('an event stream field exceeds 1 MiB', { cause: error });
    },
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  // A pending read resolves `done` once the reader is cancelled: the abort's reason is thrown below.
  const cancel = () => void reader.cancel(signal.reason).catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      signal.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) throw signal.aborted ? signal.reason : new StreamEndedError();
      onData();
      parser.feed(decoder.decode(value, { stream: true }));
      if (failure) throw failure;
      if (events.length === 0 && position === null) continue;
      yield { kind: 'batch', events, position };
      events = [];
      position = null;
    }
  } finally {
    signal.removeEventListener('abort', cancel);
    await reader.cancel().catch(() => undefined);
  }
}
