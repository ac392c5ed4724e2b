import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import mqtt, { type IClientPublishOptions, type IPublishPacket, type ISubscriptionMap, type MqttClient } from 'mqtt';
import { tlsTrustFailure } from '#common';
import { type FleetTopics, fleetTopics } from '#protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

/** Resolves once the message is handed to where it is kept (a service, an ingest batch): only then is it PUBACKed. */
export type MessageListener = (topic: string, payload: Buffer) => void | Promise<void>;

/** The longest a graceful stop waits for the message being handed over (a stuck database must not hang the stop). */
const DRAIN_TIMEOUT_MS = 10_000;
/** How long the broker gets to acknowledge what we published before a graceful stop disconnects anyway. */
const END_TIMEOUT_MS = 5_000;

/**
 * The control plane's one connection to the broker (MQTT 5). Connecting does not block boot: mqtt.js
 * retries in the background, re-subscribes after a reconnect, and /health reports the broker down
 * until it answers.
 *
 * Inbound messages are acknowledged (PUBACK) only after every listener has taken them: mqtt.js sends the
 * PUBACK when `handleMessage` calls back, and hands it the next message only then. Until the app has
 * built every provider (listeners attach in constructors) the gate is shut, so the messages a persistent
 * session brings at connect wait, unacknowledged, instead of being acknowledged with no one listening —
 * a restarted replica used to lose its whole queued share of node traffic that way. A graceful stop
 * shuts the gate again: what arrives after it stays in the broker's session for this client id.
 */
@Injectable()
export class MqttConnection implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger(MqttConnection.name);
  private readonly client: MqttClient;
  private readonly listeners: MessageListener[] = [];
  /** Inbound messages wait here: open between boot (onModuleInit) and the start of a graceful stop. */
  private gate: Promise<void>;
  private openGate!: () => void;
  /** The message being handed to the listeners (mqtt.js delivers one at a time). */
  private delivering: Promise<void> = Promise.resolve();
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
    this.gate = new Promise<void>((resolve) => (this.openGate = resolve));
    this.client.handleMessage = (packet, callback) => {
      this.delivering = this.deliver(packet);
      void this.delivering.then(() => callback());
    };
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

  /** Attach in a constructor: messages flow from onModuleInit on, and none is acknowledged unheard. */
  onMessage(listener: MessageListener): void {
    this.listeners.push(listener);
  }

  /** Every provider is built, so every listener is attached: let the held messages through. */
  onModuleInit(): void {
    this.openGate();
  }

  /**
   * First step of a graceful stop (before services flush): take no more messages. The one being handed
   * over finishes; the next ones are never acknowledged, so the broker keeps them in this client id's
   * session (and redelivers those in flight) for its next connect.
   */
  async onModuleDestroy(): Promise<void> {
    this.gate = new Promise<void>(() => undefined);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS, 'timeout').unref());
    if ((await Promise.race([this.delivering, timeout])) === 'timeout') this.logger.error('a node message was still being handled at shutdown; the broker will deliver it again');
  }

  private async deliver(packet: IPublishPacket): Promise<void> {
    await this.gate;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    for (const listener of this.listeners) {
      try {
        await listener(packet.topic, payload);
      } catch (error) {
        // A listener that fails has lost the message: say so loudly, and acknowledge anyway so one bad
        // message cannot stall the connection (the broker would redeliver it only after a reconnect).
        this.logger.error({ err: error, topic: packet.topic }, 'a message listener failed');
      }
    }
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

  /** Last: services have flushed and published their acks; let the broker acknowledge them, bounded. */
  async onApplicationShutdown(): Promise<void> {
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, END_TIMEOUT_MS, 'timeout').unref());
    if ((await Promise.race([this.client.endAsync(false), timeout])) === 'timeout') await this.client.endAsync(true);
  }
}
