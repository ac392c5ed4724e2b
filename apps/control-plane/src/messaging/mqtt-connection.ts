import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import mqtt, { type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

/**
 * The control plane's one connection to the broker. Connecting does not block boot: mqtt.js keeps
 * retrying in the background and /health reports the broker down until it answers.
 */
@Injectable()
export class MqttConnection implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(MqttConnection.name);
  private client?: MqttClient;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onModuleInit(): void {
    const { url, username, password } = this.config.mqtt;
    this.client = mqtt.connect(url, {
      protocolVersion: 5,
      clientId: `edgefleet-cp-${hostname()}-${randomBytes(4).toString('hex')}`,
      username,
      password,
      reconnectPeriod: 2000,
      connectTimeout: 5000,
    });
    this.client.on('connect', () => this.logger.log('connected to the MQTT broker'));
    // mqtt.js emits errors on every failed attempt; it reconnects on its own, so log without throwing.
    this.client.on('error', (error) => this.logger.warn({ err: error }, 'MQTT connection error'));
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async onModuleDestroy(): Promise<void> {
    await this.client?.endAsync(true);
  }
}
