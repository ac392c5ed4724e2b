import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

const KNOWN_TTL_MS = 30_000;
const UNKNOWN_TTL_MS = 5_000;

/**
 * Answers "is this an enrolled, not decommissioned node?" for every inbound MQTT message without a
 * query per message. Entries expire, so a decommission seen by another replica takes effect within
 * KNOWN_TTL_MS here (the broker refuses a decommissioned node's connection anyway).
 */
@Injectable()
export class NodeDirectory {
  private readonly cache = new Map<string, { active: boolean; until: number }>();

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async isActive(nodeId: string): Promise<boolean> {
    const now = Date.now();
    const hit = this.cache.get(nodeId);
    if (hit && hit.until > now) return hit.active;
    const rows = (await this.db.query(`SELECT 1 FROM nodes WHERE id = $1 AND status <> 'decommissioned'`, [nodeId])) as unknown[];
    const active = rows.length > 0;
    this.cache.set(nodeId, { active, until: now + (active ? KNOWN_TTL_MS : UNKNOWN_TTL_MS) });
    return active;
  }

  forget(nodeId: string): void {
    this.cache.delete(nodeId);
  }
}
