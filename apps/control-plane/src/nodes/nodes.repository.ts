import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, DeepPartial } from 'typeorm';
import type { Tx } from '../database/transactions.js';
import { type Requirement, selectorToSql } from './label-selector.js';
import { EdgeNode, type NodeStatus } from './node.entity.js';

export interface NodeFilter {
  readonly selector: readonly Requirement[];
  readonly status?: NodeStatus;
  readonly modelVersionId?: string;
  readonly after?: string;
  readonly limit: number;
}

/** The `nodes` rows; locks are row locks held until the caller's transaction ends. */
@Injectable()
export class NodesRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Keyset on id: stable under concurrent inserts, and no OFFSET scans. */
  list(filter: NodeFilter): Promise<EdgeNode[]> {
    const selector = selectorToSql(filter.selector, 'n.labels');
    const qb = this.db.getRepository(EdgeNode).createQueryBuilder('n').where(selector.sql, selector.params).orderBy('n.id', 'ASC').limit(filter.limit);
    if (filter.status) qb.andWhere('n.status = :status', { status: filter.status });
    if (filter.modelVersionId) qb.andWhere('n.current_model_version_id = :mv', { mv: filter.modelVersionId });
    if (filter.after) qb.andWhere('n.id > :cursor', { cursor: filter.after });
    return qb.getMany();
  }

  findById(id: string): Promise<EdgeNode | null> {
    return this.db.getRepository(EdgeNode).findOneBy({ id });
  }

  findByNodeKey(nodeKey: string): Promise<EdgeNode | null> {
    return this.db.getRepository(EdgeNode).findOneBy({ nodeKey });
  }

  /** Whether the node exists and is not decommissioned. */
  async isActive(id: string): Promise<boolean> {
    const rows = (await this.db.query(`SELECT 1 FROM nodes WHERE id = $1 AND status <> 'decommissioned'`, [id])) as unknown[];
    return rows.length > 0;
  }

  lock(tx: Tx, id: string): Promise<EdgeNode | null> {
    return tx.getRepository(EdgeNode).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  lockByNodeKey(tx: Tx, nodeKey: string): Promise<EdgeNode | null> {
    return tx.getRepository(EdgeNode).findOne({ where: { nodeKey }, lock: { mode: 'pessimistic_write' } });
  }

  insert(tx: Tx, node: DeepPartial<EdgeNode>): Promise<EdgeNode> {
    const repo = tx.getRepository(EdgeNode);
    return repo.save(repo.create(node));
  }

  save(tx: Tx, node: EdgeNode): Promise<EdgeNode> {
    return tx.getRepository(EdgeNode).save(node);
  }
}
