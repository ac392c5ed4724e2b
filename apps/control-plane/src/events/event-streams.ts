import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { TooManyRequestsError } from '#common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import type { EventView } from './catalogue.js';
import { EventFeed } from './event-feed.js';
import { type EventFilter, EventsRepository } from './events.repository.js';
import { StreamKeyCheck } from './stream-key-check.js';

const REPLAY_PAGE = 500;
/** A client that reads slower than events arrive is cut off past this, and resumes with Last-Event-ID. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export const matches = (filter: EventFilter, e: EventView): boolean =>
  (!filter.types || filter.types.length === 0 || filter.types.includes(e.type)) &&
  (!filter.rolloutId || filter.rolloutId === e.rolloutId) &&
  (!filter.nodeId || filter.nodeId === e.nodeId);

export const formatSse = (e: EventView): string => `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

/**
 * Server-Sent Events over the feed. A connection subscribes first (buffering), replays stored events after
 * Last-Event-ID up to the feed's watermark (settled ids only), then sends the buffer and goes live: every
 * event after Last-Event-ID once, in id order. Streams per API key are bounded on each replica.
 * The key is checked at connect (the guard), again at each heartbeat, and at once when it is revoked on
 * this replica: a revoked key's streams are closed. Every stream is closed after its maximum lifetime
 * (the client resumes with Last-Event-ID and authenticates again), so no connection outlives its key by long.
 */
@Injectable()
export class EventStreams {
  private readonly logger = new Logger(EventStreams.name);
  private readonly open = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly feed: EventFeed,
    private readonly repository: EventsRepository,
    private readonly keys: StreamKeyCheck,
  ) {}

  async serve(actor: string, filter: EventFilter, lastEventId: bigint | null, req: Request, res: Response): Promise<void> {
    const count = this.open.get(actor) ?? 0;
    if (count >= this.config.events.streamMaxPerKey) {
      throw new TooManyRequestsError(`at most ${this.config.events.streamMaxPerKey} event streams per API key on this replica`);
    }
    this.open.set(actor, count + 1);
    const connection = new StreamConnection(res, filter);
    const unsubscribe = this.feed.subscribe((events) => connection.push(events));
    const unwatch = this.watchKey(actor, connection);
    let released = false;
    // The client leaving closes the request; our own end() closes the response: either releases once.
    const release = () => {
      if (released) return;
      released = true;
      unwatch();
      unsubscribe();
      connection.closed = true;
      const left = (this.open.get(actor) ?? 1) - 1;
      if (left > 0) this.open.set(actor, left);
      else this.open.delete(actor);
    };
    req.on('close', release);
    res.on('close', release);
    res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    res.write('retry: 2000\n\n');
    try {
      const replayedUpTo = await this.replay(connection, filter, lastEventId);
      // An id without data sets the client's Last-Event-ID without an event (the SSE spec): a client that
      // drops before any event (or past a filtered-out stretch) resumes from here instead of from "now".
      connection.write(`id: ${replayedUpTo}\n\n`);
      connection.goLive(replayedUpTo);
    } catch (error) {
      // Headers are sent: no problem document can follow. The client reconnects with Last-Event-ID.
      this.logger.warn({ err: error }, 'event stream replay failed; closing the stream');
      connection.end();
    }
  }

  /** Heartbeats that re-check the key, a revocation listener and the lifetime cap; returns their cleanup. */
  private watchKey(actor: string, connection: StreamConnection): () => void {
    const heartbeat = setInterval(() => {
      connection.write(': heartbeat\n\n');
      void this.keys.isActive(actor).then((active) => {
        if (!active) connection.end();
      });
    }, this.config.events.heartbeatMs);
    const stopListening = this.keys.onRevoked((revoked) => {
      if (revoked === actor) connection.end();
    });
    const lifetime = setTimeout(() => connection.end(), this.config.events.streamMaxLifetimeMs);
    return () => {
      clearInterval(heartbeat);
      clearTimeout(lifetime);
      stopListening();
    };
  }

  /** Sends the stored events after `lastEventId` up to the feed's watermark; returns where live delivery starts. */
  private async replay(connection: StreamConnection, filter: EventFilter, lastEventId: bigint | null): Promise<bigint> {
    const watermark = this.feed.watermark;
    let last = lastEventId ?? watermark;
    while (lastEventId !== null && last < watermark && !connection.closed) {
      const page = await this.repository.page(filter, last.toString(), REPLAY_PAGE, watermark.toString());
      connection.replay(page);
      last = page.length === REPLAY_PAGE ? BigInt(page[page.length - 1]?.id ?? watermark) : watermark;
    }
    return last;
  }
}

/** One client: buffers live events until the replay is done, then writes them through. */
class StreamConnection {
  closed = false;
  private live = false;
  private lastSent = 0n;
  private readonly buffer: EventView[] = [];

  constructor(
    private readonly res: Response,
    private readonly filter: EventFilter,
  ) {}

  push(events: readonly EventView[]): void {
    if (!this.live) {
      this.buffer.push(...events);
      return;
    }
    this.send(events);
  }

  replay(events: readonly EventView[]): void {
    this.send(events);
  }

  goLive(replayedUpTo: bigint): void {
    if (this.lastSent < replayedUpTo) this.lastSent = replayedUpTo;
    this.live = true;
    this.send(this.buffer.splice(0));
  }

  write(chunk: string): void {
    if (this.closed) return;
    this.res.write(chunk);
    if (this.res.writableLength > MAX_BUFFERED_BYTES) this.end();
  }

  /** Nothing more is written: the client reconnects with Last-Event-ID. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.end();
  }

  private send(events: readonly EventView[]): void {
    for (const e of events) {
      const id = BigInt(e.id);
      if (id <= this.lastSent) continue;
      this.lastSent = id;
      if (matches(this.filter, e)) this.write(formatSse(e));
    }
  }
}
