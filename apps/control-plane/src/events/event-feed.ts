import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { NotificationListener } from '../database/notification-listener.js';
import type { EventView } from './catalogue.js';
import { type Gap, planDelivery } from './delivery-plan.js';
import { EventsRepository } from './events.repository.js';

export type FeedListener = (events: readonly EventView[]) => void;

const CHANNEL = 'edgefleet_events';
const READ_BATCH = 500;
/** While a gap is open the feed re-reads this often, whatever the poll interval. */
const GAP_RECHECK_MS = 50;

/**
 * This replica's view of the event stream, in id order, each event once. Whichever replica stores an
 * event, a statement trigger NOTIFYs on commit and every replica's feed reads the new rows by id (a poll
 * every EVENTS_POLL_MS covers a lost LISTEN connection). Ordering across out-of-order commits is
 * `planDelivery`'s job. SSE connections and the webhook dispatcher subscribe here.
 */
@Injectable()
export class EventFeed implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(EventFeed.name);
  private readonly listeners = new Set<FeedListener>();
  private cursor = 0n;
  private gap: Gap | null = null;
  private listener?: NotificationListener;
  private timer?: NodeJS.Timeout;
  private reading: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: EventsRepository,
  ) {}

  /** The last id delivered: every event up to it is settled (a replay up to here misses nothing). */
  get watermark(): bigint {
    return this.cursor;
  }

  /** The id the feed holds at (an open transaction drew it), if any: for /metrics-style introspection and tests. */
  get waitingFor(): bigint | null {
    return this.gap?.expected ?? null;
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.cursor = await this.repository.lastId();
    await this.listen();
    this.schedule(this.config.events.pollMs);
  }

  /** Reads now (coalesced: a read asked for during one runs once after it). */
  poke(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.readAll()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not read new events; will retry'))
      .finally(() => {
        this.reading = null;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.poke();
      this.schedule(this.config.events.pollMs);
    }, ms);
  }

  private async readAll(): Promise<void> {
    for (;;) {
      const { events, snapshot } = await this.repository.readWithSnapshot(this.cursor, READ_BATCH);
      const plan = planDelivery(this.cursor, events.map((e) => BigInt(e.id)), this.gap, snapshot, Date.now(), this.config.events.gapMaxWaitMs);
      for (const s of plan.skipped) {
        if (s.timedOut) this.logger.warn({ from: s.from.toString(), to: s.to.toString() }, 'gave up waiting for event ids held by a long transaction');
      }
      this.cursor = plan.cursor;
      this.gap = plan.gap;
      if (plan.deliver > 0) this.emit(events.slice(0, plan.deliver));
      if (this.gap) return this.schedule(GAP_RECHECK_MS);
      if (events.length < READ_BATCH) return;
    }
  }

  private emit(events: readonly EventView[]): void {
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (error) {
        this.logger.error({ err: error }, 'event listener failed');
      }
    }
  }

  /** LISTEN on a dedicated connection, reconnected after an error (polls cover the meantime). */
  private async listen(): Promise<void> {
    this.listener = new NotificationListener(this.config.database.url, CHANNEL, () => this.poke(), this.logger);
    await this.listener.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // The listener stops first, so a reconnect it has pending cannot open a connection after this.
    const listening = this.listener?.stop();
    await this.reading;
    await listening;
  }
}
