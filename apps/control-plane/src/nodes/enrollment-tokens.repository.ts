import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, IsNull } from 'typeorm';
import type { Tx } from '../database/transactions.js';
import { EnrollmentToken } from './enrollment-token.entity.js';

export type NewToken = Pick<EnrollmentToken, 'name' | 'labels' | 'tokenHash' | 'expiresAt' | 'maxUses' | 'createdBy' | 'nodeId'>;

@Injectable()
export class EnrollmentTokensRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  insert(tx: Tx, token: NewToken): Promise<EnrollmentToken> {
    const repo = tx.getRepository(EnrollmentToken);
    return repo.save(repo.create({ ...token, revokedAt: null }));
  }

  list(): Promise<EnrollmentToken[]> {
    return this.db.getRepository(EnrollmentToken).find({ order: { createdAt: 'DESC' } });
  }

  /** Whether an active token was revoked (false: no such token, or already revoked). */
  async revoke(tx: Tx, id: string, at: Date): Promise<boolean> {
    const result = await tx.getRepository(EnrollmentToken).update({ id, revokedAt: IsNull() }, { revokedAt: at });
    return Boolean(result.affected);
  }

  /** Revokes every active (identity reset) token bound to this node. */
  async revokeForNode(tx: Tx, nodeId: string, at: Date): Promise<void> {
    await tx.getRepository(EnrollmentToken).update({ nodeId, revokedAt: IsNull() }, { revokedAt: at });
  }

  /** The token with this hash, row-locked: enrolments on one token serialise here. */
  lockByHash(tx: Tx, tokenHash: string): Promise<EnrollmentToken | null> {
    return tx.getRepository(EnrollmentToken).findOne({ where: { tokenHash }, lock: { mode: 'pessimistic_write' } });
  }

  save(tx: Tx, token: EnrollmentToken): Promise<EnrollmentToken> {
    return tx.getRepository(EnrollmentToken).save(token);
  }
}
