import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { encodeMessage, envelopeFields, rootEnvelopeSchema } from '#protocol';
import type { Envelope, RootDocument } from '#trust';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { SigningService } from './signing.service.js';

/**
 * Publishes every root version, retained, on `ef/v1/{fleet}/trust/root/{version}`: at each (re)connect
 * (a broker that lost its retained messages gets them back) and as soon as this replica moves to a new
 * root. Every replica publishes; the retained message of a version is the same document whoever sent it.
 */
@Injectable()
export class TrustRootPublisher implements OnModuleInit {
  private readonly logger = new Logger(TrustRootPublisher.name);

  constructor(
    private readonly mqtt: MqttConnection,
    private readonly signing: SigningService,
  ) {}

  /** Registered in onModuleInit: before the listeners that re-sign desired states, which nodes verify with it. */
  onModuleInit(): void {
    this.signing.onRootChanged(() => this.publishAll());
    this.mqtt.whenConnected(() => {
      this.publishAll().catch((error: unknown) => this.logger.warn({ err: error }, 'could not publish the roots; the next connect retries'));
    });
  }

  async publishAll(): Promise<void> {
    const roots = await this.signing.rootHistory();
    for (const root of roots) await this.publish(root);
  }

  private async publish(root: Envelope<RootDocument>): Promise<void> {
    // Parsing types the file's envelope as the wire schema (and refuses one nodes could not parse).
    const payload = encodeMessage('trust-root', { ...envelopeFields(), root: rootEnvelopeSchema.parse(root) });
    await this.mqtt.publish(this.mqtt.topics.trustRoot(root.signed.version), payload, { qos: 1, retain: true });
  }
}
