import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsNull, type DataSource } from 'typeorm';
import { generateSecret, hashSecret, NotFoundError, secretsEqual, UnauthenticatedError } from '#common';
import { AuditService } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ApiKey, type ApiRole } from './api-key.entity.js';
import { KeyRevocations } from './key-revocations.js';
import type { Principal } from './principal.js';

export interface CreatedApiKey {
  readonly apiKey: ApiKey;
  /** Shown once; only its hash is stored. */
  readonly key: string;
}

const BOOTSTRAP_ACTOR = 'bootstrap-admin';

@Injectable()
export class ApiKeysService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly revocations: KeyRevocations,
  ) {}

  async authenticate(key: string): Promise<Principal> {
    const bootstrap = this.config.auth.bootstrapAdminKey;
    if (bootstrap && secretsEqual(key, bootstrap)) return { actor: BOOTSTRAP_ACTOR, role: 'admin' };
    const found = await this.db.getRepository(ApiKey).findOneBy({ keyHash: hashSecret(key), revokedAt: IsNull() });
    if (!found) throw new UnauthenticatedError('invalid or revoked API key');
    return { actor: `api-key:${found.id}`, role: found.role };
  }

  /** Whether the key behind an authenticated actor still authenticates (not revoked since). */
  async isActive(actor: string): Promise<boolean> {
    if (actor === BOOTSTRAP_ACTOR) return this.config.auth.bootstrapAdminKey !== undefined;
    const id = /^api-key:([0-9a-f-]{36})$/.exec(actor)?.[1];
    if (!id) return false;
    return (await this.db.getRepository(ApiKey).countBy({ id, revokedAt: IsNull() })) > 0;
  }

  async create(by: Principal, name: string, role: ApiRole): Promise<CreatedApiKey> {
    const key = generateSecret('efk');
    const apiKey = await this.db.transaction(async (tx) => {
      const saved = await tx.getRepository(ApiKey).save(
        tx.getRepository(ApiKey).create({ name, role, keyHash: hashSecret(key), keyPrefix: key.slice(0, 12), createdBy: by.actor, revokedAt: null }),
      );
      await this.audit.record(tx, by, 'api-key.create', { type: 'api-key', id: saved.id }, { name, role });
      return saved;
    });
    return { apiKey, key };
  }

  list(): Promise<ApiKey[]> {
    return this.db.getRepository(ApiKey).find({ order: { createdAt: 'ASC' } });
  }

  async revoke(by: Principal, id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const result = await tx.getRepository(ApiKey).update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
      if (!result.affected) throw new NotFoundError('active api key', id);
      await this.audit.record(tx, by, 'api-key.revoke', { type: 'api-key', id });
    });
    this.revocations.notify(`api-key:${id}`);
  }
}
