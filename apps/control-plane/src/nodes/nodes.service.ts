import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { NotFoundError, ValidationError } from '#common';
import { AuditService } from '../audit/audit.service.js';
import { BrokerAccess } from '../broker/broker-access.js';
import { NodeDirectory } from './node-directory.js';
import type { Principal } from '../auth/principal.js';
import { type Labels, labelProblems, parseLabelSelector, selectorToSql } from './label-selector.js';
import { EdgeNode, type NodeStatus } from './node.entity.js';

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
    @InjectDataSource() private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly broker: BrokerAccess,
    private readonly directory: NodeDirectory,
  ) {}

  /** Keyset pagination on id: stable under concurrent inserts, and no OFFSET scans. */
  async list(query: NodeQuery): Promise<NodePage> {
    const selector = selectorToSql(parseLabelSelector(query.selector ?? ''), 'n.labels');
    const qb = this.db
      .getRepository(EdgeNode)
      .createQueryBuilder('n')
      .where(selector.sql, selector.params)
      .orderBy('n.id', 'ASC')
      .limit(query.limit + 1);
    if (query.status) qb.andWhere('n.status = :status', { status: query.status });
    if (query.modelVersionId) qb.andWhere('n.current_model_version_id = :mv', { mv: query.modelVersionId });
    if (query.cursor) qb.andWhere('n.id > :cursor', { cursor: query.cursor });
    const rows = await qb.getMany();
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > query.limit && last ? last.id : null };
  }

  async get(id: string): Promise<EdgeNode> {
    const node = await this.db.getRepository(EdgeNode).findOneBy({ id });
    if (!node) throw new NotFoundError('node', id);
    return node;
  }

  /** Applies a merge patch to the node's labels: a null value removes that label. */
  async updateLabels(by: Principal, id: string, patch: Record<string, string | null>): Promise<EdgeNode> {
    return this.db.transaction(async (tx) => {
      const repo = tx.getRepository(EdgeNode);
      const node = await repo.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
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
      const saved = await repo.save(node);
      await this.audit.record(tx, by, 'node.update-labels', { type: 'node', id }, { before, after: labels });
      return saved;
    });
  }

  /** Revokes the node's credential for good. Idempotent: a second call changes nothing. */
  async decommission(by: Principal, id: string): Promise<EdgeNode> {
    const node = await this.db.transaction(async (tx) => {
      const repo = tx.getRepository(EdgeNode);
      const node = await repo.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!node) throw new NotFoundError('node', id);
      if (node.status === 'decommissioned') return node;
      node.status = 'decommissioned';
      node.secretHash = null;
      node.decommissionedAt = new Date();
      const saved = await repo.save(node);
      await this.audit.record(tx, by, 'node.decommission', { type: 'node', id });
      return saved;
    });
    // Also on a repeated call, so a broker that missed the first revocation gets it now.
    await this.broker.revokeNode(id);
    this.directory.forget(id);
    return node;
  }
}
