import { Injectable } from '@nestjs/common';
import { NotFoundError, ValidationError } from '#common';
import { AuditService } from '../audit/audit.service.js';
import { BrokerAccess } from '../broker/broker-access.js';
import { Transactions } from '../database/transactions.js';
import { NodeDirectory } from './node-directory.js';
import type { Principal } from '../auth/principal.js';
import { type Labels, labelProblems, parseLabelSelector } from './label-selector.js';
import type { EdgeNode, NodeStatus } from './node.entity.js';
import { NodesRepository } from './nodes.repository.js';

export interface NodeQuery {
  readonly selector?: string;
  readonly status?: NodeStatus;
  readonly modelVersionId?: string;
  readonly limit: number;
  readonly cursor?: string;
}

export interface NodePage {
  readonly items: EdgeNode[];
  readonly nextCursor: string | null;
}

@Injectable()
export class NodesService {
  constructor(
    private readonly transactions: Transactions,
    private readonly nodes: NodesRepository,
    private readonly audit: AuditService,
    private readonly broker: BrokerAccess,
    private readonly directory: NodeDirectory,
  ) {}

  /** Keyset pagination on id: stable under concurrent inserts, and no OFFSET scans. */
  async list(query: NodeQuery): Promise<NodePage> {
    const rows = await this.nodes.list({
      selector: parseLabelSelector(query.selector ?? ''),
      status: query.status,
      modelVersionId: query.modelVersionId,
      after: query.cursor,
      // One more than asked: whether it comes back says if there is a next page.
      limit: query.limit + 1,
    });
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > query.limit && last ? last.id : null };
  }

  async get(id: string): Promise<EdgeNode> {
    const node = await this.nodes.findById(id);
    if (!node) throw new NotFoundError('node', id);
    return node;
  }

  /** Applies a merge patch to the node's labels: a null value removes that label. */
  async updateLabels(by: Principal, id: string, patch: Record<string, string | null>): Promise<EdgeNode> {
    return this.transactions.run(async (tx) => {
      const node = await this.nodes.lock(tx, id);
      if (!node) throw new NotFoundError('node', id);
      const before = node.labels;
      const labels: Labels = { ...before };
      for (const [key, value] of Object.entries(patch)) {
        if (value === null) delete labels[key];
        else labels[key] = value;
      }
      const problems = labelProblems(labels);
      if (problems.length) throw new ValidationError(problems.join('; '), problems.map((message) => ({ field: 'labels', message })));
      node.labels = labels;
      const saved = await this.nodes.save(tx, node);
      await this.audit.record(tx, by, 'node.update-labels', { type: 'node', id }, { before, after: labels });
      return saved;
    });
  }

  /** Revokes the node's credential for good. Idempotent: a second call changes nothing. */
  async decommission(by: Principal, id: string): Promise<EdgeNode> {
    const node = await this.transactions.run(async (tx) => {
      const node = await this.nodes.lock(tx, id);
      if (!node) throw new NotFoundError('node', id);
      if (node.status === 'decommissioned') return node;
      node.status = 'decommissioned';
      node.secretHash = null;
      node.decommissionedAt = new Date();
      const saved = await this.nodes.save(tx, node);
      await this.audit.record(tx, by, 'node.decommission', { type: 'node', id });
      return saved;
    });
    // Also on a repeated call, so a broker that missed the first revocation gets it now.
    await this.broker.revokeNode(id);
    this.directory.forget(id);
    return node;
  }
}
