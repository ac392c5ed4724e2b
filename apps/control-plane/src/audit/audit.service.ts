import { Injectable } from '@nestjs/common';
import type { Principal } from '../auth/principal.js';
import type { Tx } from '../database/transactions.js';
import type { AuditEvent } from './audit-event.entity.js';
import { type AuditQuery, AuditRepository } from './audit.repository.js';

export interface AuditTarget {
  readonly type: string;
  readonly id: string;
}

@Injectable()
export class AuditService {
  constructor(private readonly repository: AuditRepository) {}

  /** Writes inside the caller's transaction, so a mutation and its audit row commit or fail together. */
  async record(tx: Tx, by: Principal | string, action: string, target: AuditTarget, details: Record<string, unknown> = {}): Promise<void> {
    const actor = typeof by === 'string' ? by : by.actor;
    await this.repository.insert(tx, { actor, action, targetType: target.type, targetId: target.id, details });
  }

  list(query: AuditQuery): Promise<AuditEvent[]> {
    return this.repository.list(query);
  }
}
