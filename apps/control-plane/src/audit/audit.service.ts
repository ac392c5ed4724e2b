import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { Principal } from '../auth/principal.js';
import { AuditEvent } from './audit-event.entity.js';

export interface AuditTarget {
  readonly type: string;
  readonly id: string;
}

export interface AuditQuery {
  readonly targetType?: string;
  readonly targetId?: string;
  readonly limit: number;
  /** Return events older than this id (keyset pagination, newest first). */
  readonly before?: string;
}

@Injectable()
export class AuditService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Writes inside the caller's transaction, so a mutation and its audit row commit or fail together. */
  async record(
    tx: EntityManager,
    by: Principal | string,
    action: string,
    target: AuditTarget,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    const actor = typeof by === 'string' ? by : by.actor;
    const repo = tx.getRepository(AuditEvent);
    await repo.save(repo.create({ actor, action, targetType: target.type, targetId: target.id, details }));
  }

  async list(query: AuditQuery): Promise<AuditEvent[]> {
    const qb = this.db.getRepository(AuditEvent).createQueryBuilder('e').orderBy('e.id', 'DESC').limit(query.limit);
    if (query.targetType) qb.andWhere('e.target_type = :targetType', { targetType: query.targetType });
    if (query.targetId) qb.andWhere('e.target_id = :targetId', { targetId: query.targetId });
    if (query.before) qb.andWhere('e.id < :before', { before: query.before });
    return qb.getMany();
  }
}
