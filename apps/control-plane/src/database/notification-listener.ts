import type { LoggerService } from '@nestjs/common';
import pg from 'pg';

/**
 * A dedicated connection LISTENing on one channel (a pooled connection cannot hold a LISTEN), calling
 * `onNotify` for each NOTIFY. After an error it reconnects a second later; callers poll meanwhile, so a
 * lost connection delays, never loses, what they read.
 */
export class NotificationListener {
  private client?: pg.Client;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly onNotify: () => void,
    private readonly logger: LoggerService,
  ) {}

  async start(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', () => this.onNotify());
    client.on('error', (error) => {
      this.logger.warn({ err: error }, `${this.channel} LISTEN connection lost; reconnecting`);
      this.retry(client);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (this.stopped) return void (await client.end().catch(() => undefined));
      this.client = client;
    } catch (error) {
      this.logger.warn({ err: error }, `could not LISTEN on ${this.channel}; polling only until it can`);
      this.retry(client);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.end().catch(() => undefined);
  }

  /** Clients already given up on: a failed connect can also emit `error`, and two retries would double the listeners. */
  private readonly retried = new WeakSet<pg.Client>();

  private retry(client: pg.Client): void {
    if (this.retried.has(client)) return;
    this.retried.add(client);
    if (this.client === client) this.client = undefined;
    void client.end().catch(() => undefined);
    setTimeout(() => void this.start().catch(() => undefined), 1000).unref();
  }
}
