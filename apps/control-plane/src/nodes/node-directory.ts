import { Inject, Injectable } from '@nestjs/common';
import { isDatabaseUnavailable } from '../database/pg-errors.js';
import { NodesRepository } from './nodes.repository.js';

/** What the directory asks its repository (a narrower type than the class: the spec gives a scripted one). */
export type NodeActivityLookup = Pick<NodesRepository, 'isActive'>;

const KNOWN_TTL_MS = 30_000;
const UNKNOWN_TTL_MS = 5_000;

/**
 * Answers "is this an enrolled, not decommissioned node?" for every inbound MQTT message without a
 * query per message. Entries expire, so a decommission seen by another replica takes effect within
 * KNOWN_TTL_MS here (the broker refuses a decommissioned node's connection anyway).
 *
 * While the database cannot be reached, the last answer stands however old, and a node never asked
 * about counts as active: the message is acknowledged to the broker once handed over, so refusing it
 * here lost every heartbeat whose entry expired during an outage (measured in
 * test/integration/postgres-outage.int.test.ts). Letting one through is safe: the broker has
 * authenticated the node for this very topic, and the telemetry tables' foreign key refuses a node that
 * does not exist when the batch is written.
 */
@Injectable()
export class NodeDirectory {
  private readonly cache = new Map<string, { active: boolean; until: number }>();

  constructor(@Inject(NodesRepository) private readonly nodes: NodeActivityLookup) {}

  async isActive(nodeId: string): Promise<boolean> {
    const now = Date.now();
    const hit = this.cache.get(nodeId);
    if (hit && hit.until > now) return hit.active;
    let active: boolean;
    try {
      active = await this.nodes.isActive(nodeId);
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      return hit?.active ?? true;
    }
    this.cache.set(nodeId, { active, until: now + (active ? KNOWN_TTL_MS : UNKNOWN_TTL_MS) });
    return active;
  }

  forget(nodeId: string): void {
    this.cache.delete(nodeId);
  }
}
