import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import mqtt, { type IClientPublishOptions, type ISubscriptionMap, type MqttClient } from 'mqtt';
import { tlsTrustFailure } from '#common';
import { type FleetTopics, fleetTopics } from '#protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

export type MessageListener = (topic: string, payload: Buffer) => void;

/**
 * The control plane's one connection to the broker (MQTT 5). Connecting does not block boot: mqtt.js
 * retries in the background, re-subscribes after a reconnect, and /health reports the broker down
 * until it answers.
 */
@Injectable()
export class MqttConnection implements OnModuleDestroy {
  private readonly logger = new Logger(MqttConnection.name);
  private readonly client: MqttClient;
  /** Why the last attempt failed (cleared on connect): /health says it, e.g. an untrusted broker certificate. */
  private lastError?: Error;
  /** This installation's topics (`ef/v1/{fleet namespace}/…`): every publish and subscription uses them. */
  readonly topics: FleetTopics;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.topics = fleetTopics(config.mqtt.fleetNamespace);
    const { url, username, password, clientId, sessionExpirySeconds, ca } = config.mqtt;
    // A persistent session under a stable client id: messages for this replica's share of the shared
    // subscriptions are queued by the broker while it reconnects, instead of being dropped.
    this.client = mqtt.connect(url, {
      protocolVersion: 5,
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: sessionExpirySeconds },
      username,
      password,
      reconnectPeriod: 2000,
      connectTimeout: 5000,
      // Used by mqtts:// and wss:// only. Without a CA file the system's trusted CAs apply; never unverified.
      ...(ca === undefined ? {} : { ca }),
      rejectUnauthorized: true,
    });
    this.client.on('connect', () => {
      this.lastError = undefined;
      this.logger.log('connected to the MQTT broker');
    });
    // mqtt.js emits an error on every failed attempt and reconnects on its own: log, never throw.
    this.client.on('error', (error) => {
      this.lastError = error;
      const untrusted = tlsTrustFailure(error);
      // Not transient: retrying will not help until the broker's certificate or MQTT_CA_FILE changes.
      if (untrusted) this.logger.error({ err: error, pinned: ca === undefined ? 'system CAs' : 'MQTT_CA_FILE' }, `the broker’s TLS certificate is not trusted: ${untrusted}`);
      else this.logger.warn({ err: error }, 'MQTT connection error');
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Why the broker is unreachable, when it is (for /health). */
  get lastConnectionError(): string | undefined {
    if (this.client.connected || !this.lastError) return undefined;
    const code = (this.lastError as NodeJS.ErrnoException).code;
    return code ? `${code}: ${this.lastError.message}` : this.lastError.message;
  }

  onMessage(listener: MessageListener): void {
    this.client.on('message', (topic, payload) => listener(topic, payload));
  }

  /**
   * Keeps `filters` subscribed: now if connected, and again after every (re)connect, so a broker that
   * is down at boot or restarts later does not leave the control plane deaf.
   */
  keepSubscribed(filters: string[], qos: 0 | 1 = 1): void {
    // Always send SUBSCRIBE, even when the broker reports our session present: Mosquitto 2.0 does not
    // restore shared subscriptions from persistence, and mqtt.js would otherwise skip topics it
    // believes subscribed.
    const subscriptions = Object.assign(Object.fromEntries(filters.map((f) => [f, { qos }])), { resubscribe: true }) as ISubscriptionMap;
    const subscribe = () => {
      // mqtt.js consumes the `resubscribe` flag: hand it a fresh copy each time.
      this.client.subscribeAsync({ ...subscriptions }).then(
        (granted) => {
          const refused = granted.filter((g) => g.qos > 2);
          if (refused.length) this.logger.error({ topics: refused.map((g) => g.topic) }, 'broker refused subscriptions');
        },
        (error: unknown) => this.logger.warn({ err: error }, 'subscribe failed; will retry on reconnect'),
      );
    };
    this.client.on('connect', subscribe);
    if (this.client.connected) subscribe();
  }

  /** Runs `listener` now if connected and after every (re)connect (e.g. to publish retained state again). */
  whenConnected(listener: () => void): void {
    this.client.on('connect', listener);
    if (this.client.connected) listener();
  }

  async publish(topic: string, payload: Buffer | string, options: IClientPublishOptions = { qos: 1 }): Promise<void> {
    await this.client.publishAsync(topic, payload, options);
  }

  /** Resolves once connected (for start-up paths and tests that must not publish into the void). */
  async ready(timeoutMs = 10_000): Promise<void> {
    if (this.client.connected) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for the MQTT broker')), timeoutMs);
      this.client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.client.endAsync(true);
  }
}
