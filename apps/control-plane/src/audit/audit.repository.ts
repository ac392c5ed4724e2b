import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Tx } from '../database/transactions.js';
import { AuditEvent } from './audit-event.entity.js';

export interface NewAuditEvent {
  readonly actor: string;
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string;
  readonly details: Record<string, unknown>;
}

export interface AuditQuery {
  readonly targetType?: string;
  readonly targetId?: string;
  readonly limit: number;
  /** Return events older than this id (keyset pagination, newest first). */
  readonly before?: string;
}

@Injectable()
export class AuditRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(tx: Tx, event: NewAuditEvent): Promise<void> {
    const repo = tx.getRepository(AuditEvent);
    await repo.save(repo.create(event));
  }

  list(query: AuditQuery): Promise<AuditEvent[]> {
    const qb = this.db.getRepository(AuditEvent).createQueryBuilder('e').orderBy('e.id', 'DESC').limit(query.limit);
    if (query.targetType) qb.andWhere('e.target_type = :targetType', { targetType: query.targetType });
    if (query.targetId) qb.andWhere('e.target_id = :targetId', { targetId: query.targetId });
    if (query.before) qb.andWhere('e.id < :before', { before: query.before });
    return qb.getMany();
  }
}
