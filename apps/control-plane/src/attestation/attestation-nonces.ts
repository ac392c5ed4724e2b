import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { encodeMessage, envelopeFields } from '#protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { AttestationRepository } from './attestation.repository.js';

/**
 * The nonce attestation reports sign: one per epoch of ATTESTATION_NONCE_SECONDS, the same on every
 * replica (the first replica to store an epoch's row wins), published retained to every node. A report
 * counts while its nonce is the current or the previous epoch's, so a node that heard the new nonce a
 * little late is not judged stale, and a recorded report stops counting within two epochs.
 */
@Injectable()
export class AttestationNonces implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(AttestationNonces.name);
  private readonly periodMs: number;
  /** epoch → nonce, for the current and the previous epoch. */
  private known = new Map<number, string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly repository: AttestationRepository,
    private readonly mqtt: MqttConnection,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.periodMs = config.attestation.nonceSeconds * 1000;
  }

  /** Not awaited: publishing waits for the broker, which must not hold up boot. */
  onApplicationBootstrap(): void {
    void this.rotate().catch((error: unknown) => this.logger.error({ err: error }, 'could not set the attestation nonce; retrying next epoch'));
  }

  onModuleDestroy(): void {
    clearTimeout(this.timer);
  }

  /** True for the current or the previous epoch's nonce. */
  isCurrent(nonce: string): boolean {
    for (const known of this.known.values()) if (known === nonce) return true;
    return false;
  }

  /** Re-reads the recent nonces when a report names one this replica has not seen (another replica rotated first). */
  async learn(nonces: Iterable<string>): Promise<void> {
    for (const nonce of nonces) {
      if (this.isCurrent(nonce)) continue;
      await this.load(this.epoch());
      return;
    }
  }

  private epoch(now = Date.now()): number {
    return Math.floor(now / this.periodMs);
  }

  private async load(epoch: number): Promise<void> {
    const current = await this.repository.nonceFor(epoch, randomBytes(32).toString('base64url'));
    const previous = await this.repository.nonceAt(epoch - 1);
    this.known = new Map(previous === undefined ? [[epoch, current]] : [[epoch - 1, previous], [epoch, current]]);
  }

  private async rotate(): Promise<void> {
    const epoch = this.epoch();
    try {
      await this.load(epoch);
      const nonce = this.known.get(epoch) as string;
      // Retained: a node that connects later hears the current nonce at once. Every replica publishes the
      // same nonce; the duplicates change nothing.
      await this.mqtt.publish(this.mqtt.topics.attestationNonce, encodeMessage('attestation-nonce', { ...envelopeFields(), nonce }), { qos: 1, retain: true });
      await this.repository.dropNoncesBefore(epoch - 1);
      // A node that stops attesting (or sends heartbeats without a report) must not keep its last verdict.
      const expired = await this.repository.expireVerdicts(2 * this.periodMs);
      if (expired > 0) this.logger.log({ nodes: expired }, 'attestation verdicts not renewed for two nonce epochs are now stale');
    } finally {
      const next = (epoch + 1) * this.periodMs - Date.now();
      this.timer = setTimeout(() => void this.rotate().catch((error: unknown) => this.logger.error({ err: error }, 'could not rotate the attestation nonce')), Math.max(10, next));
      this.timer.unref();
    }
  }
}
