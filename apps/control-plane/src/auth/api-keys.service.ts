import { Inject, Injectable } from '@nestjs/common';
import { generateSecret, hashSecret, NotFoundError, secretsEqual, UnauthenticatedError } from '#common';
import { AuditService } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { Transactions } from '../database/transactions.js';
import type { ApiKey, ApiRole } from './api-key.entity.js';
import { ApiKeysRepository } from './api-keys.repository.js';
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
    private readonly transactions: Transactions,
    private readonly repository: ApiKeysRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly revocations: KeyRevocations,
  ) {}

  async authenticate(key: string): Promise<Principal> {
    const bootstrap = this.config.auth.bootstrapAdminKey;
    if (bootstrap && secretsEqual(key, bootstrap)) return { actor: BOOTSTRAP_ACTOR, role: 'admin' };
    const found = await this.repository.findActiveByHash(hashSecret(key));
    if (!found) throw new UnauthenticatedError('invalid or revoked API key');
    return { actor: `api-key:${found.id}`, role: found.role };
  }

  /** Whether the key behind an authenticated actor still authenticates (not revoked since). */
  async isActive(actor: string): Promise<boolean> {
    if (actor === BOOTSTRAP_ACTOR) return this.config.auth.bootstrapAdminKey !== undefined;
    const id = /^api-key:([0-9a-f-]{36})$/.exec(actor)?.[1];
    if (!id) return false;
    return this.repository.isActive(id);
  }

  async create(by: Principal, name: string, role: ApiRole): Promise<CreatedApiKey> {
    const key = generateSecret('efk');
    const apiKey = await this.transactions.run(async (tx) => {
      const saved = await this.repository.insert(tx, { name, role, keyHash: hashSecret(key), keyPrefix: key.slice(0, 12), createdBy: by.actor });
      await this.audit.record(tx, by, 'api-key.create', { type: 'api-key', id: saved.id }, { name, role });
      return saved;
    });
    return { apiKey, key };
  }

  list(): Promise<ApiKey[]> {
    return this.repository.list();
  }

  async revoke(by: Principal, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      if (!(await this.repository.revoke(tx, id, new Date()))) throw new NotFoundError('active api key', id);
      await this.audit.record(tx, by, 'api-key.revoke', { type: 'api-key', id });
    });
    this.revocations.notify(`api-key:${id}`);
  }
}
