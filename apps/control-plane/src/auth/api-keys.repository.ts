import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, IsNull } from 'typeorm';
import type { Tx } from '../database/transactions.js';
import { ApiKey, type ApiRole } from './api-key.entity.js';

export interface NewApiKey {
  readonly name: string;
  readonly role: ApiRole;
  readonly keyHash: string;
  readonly keyPrefix: string;
  readonly createdBy: string;
}

@Injectable()
export class ApiKeysRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  findActiveByHash(keyHash: string): Promise<ApiKey | null> {
    return this.db.getRepository(ApiKey).findOneBy({ keyHash, revokedAt: IsNull() });
  }

  async isActive(id: string): Promise<boolean> {
    return (await this.db.getRepository(ApiKey).countBy({ id, revokedAt: IsNull() })) > 0;
  }

  insert(tx: Tx, key: NewApiKey): Promise<ApiKey> {
    const repo = tx.getRepository(ApiKey);
    return repo.save(repo.create({ ...key, revokedAt: null }));
  }

  list(): Promise<ApiKey[]> {
    return this.db.getRepository(ApiKey).find({ order: { createdAt: 'ASC' } });
  }

  /** Whether an active key was revoked (false: no such key, or already revoked). */
  async revoke(tx: Tx, id: string, at: Date): Promise<boolean> {
    const result = await tx.getRepository(ApiKey).update({ id, revokedAt: IsNull() }, { revokedAt: at });
    return Boolean(result.affected);
  }
}
