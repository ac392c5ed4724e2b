import { Inject, Injectable, Logger } from '@nestjs/common';
import { ApiKeysService } from '../auth/api-keys.service.js';
import { KeyRevocations, type RevokedListener } from '../auth/key-revocations.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

interface Checked {
  readonly until: number;
  readonly active: Promise<boolean>;
}

/**
 * Whether a stream's API key still holds, asked at each heartbeat of each stream. The answer is cached per
 * key for one heartbeat interval, so a replica looks a key up about once per interval however many streams
 * it holds. A check that fails (database down) counts as revoked: the client reconnects and is
 * authenticated again. Revocations on this replica arrive at once through `KeyRevocations`.
 */
@Injectable()
export class StreamKeyCheck {
  private readonly logger = new Logger(StreamKeyCheck.name);
  private readonly cache = new Map<string, Checked>();
  private readonly ttlMs: number;

  constructor(
    private readonly apiKeys: ApiKeysService,
    private readonly revocations: KeyRevocations,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.ttlMs = config.events.heartbeatMs;
  }

  /** Calls `listener` when a key is revoked on this replica. */
  onRevoked(listener: RevokedListener): () => void {
    return this.revocations.subscribe((actor) => {
      this.cache.delete(actor);
      listener(actor);
    });
  }

  isActive(actor: string): Promise<boolean> {
    const now = Date.now();
    const cached = this.cache.get(actor);
    if (cached && cached.until > now) return cached.active;
    this.forgetExpired(now);
    const active = this.apiKeys.isActive(actor).catch((error: unknown) => {
      this.logger.warn({ err: error, actor }, 'could not re-check an event stream key; closing its streams');
      return false;
    });
    this.cache.set(actor, { until: now + this.ttlMs, active });
    return active;
  }

  /** Keeps the cache to the keys checked within one interval (those with open streams). */
  private forgetExpired(now: number): void {
    for (const [actor, checked] of this.cache) if (checked.until <= now) this.cache.delete(actor);
  }
}
