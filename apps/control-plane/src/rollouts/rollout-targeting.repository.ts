import { Injectable } from '@nestjs/common';
import { In } from 'typeorm';
import type { Tx } from '../database/transactions.js';
import { ModelVersion } from '../models/model-version.entity.js';
import { type Requirement, selectorToSql } from '../nodes/label-selector.js';
import { EdgeNode } from '../nodes/node.entity.js';
import type { Rollout } from './rollout.entity.js';

/** Who a rollout can reach, read and written in the caller's transaction (a dry run's snapshot, a start, a tick). */
@Injectable()
export class RolloutTargetingRepository {
  versions(tx: Tx, ids: readonly string[]): Promise<ModelVersion[]> {
    return tx.getRepository(ModelVersion).find({ where: { id: In([...ids]) }, relations: { artifact: true } });
  }

  /**
   * Active nodes the selector matches, at most `limit`; with `newcomersOf`, only those not yet in that
   * rollout or in a newer unfinished one.
   */
  matchingNodes(tx: Tx, selector: readonly Requirement[], limit: number, newcomersOf?: Rollout): Promise<EdgeNode[]> {
    const sql = selectorToSql(selector, 'n.labels');
    const query = tx.getRepository(EdgeNode).createQueryBuilder('n').where(`n.status <> 'decommissioned'`).andWhere(sql.sql, sql.params);
    if (newcomersOf) {
      query.andWhere(
        `NOT EXISTS (SELECT 1 FROM rollout_nodes rn JOIN rollouts r ON r.id = rn.rollout_id
                      WHERE rn.node_id = n.id AND (r.id = :rolloutId OR (r.created_at > :createdAt AND r.state IN ('running', 'paused', 'awaiting-approval', 'scheduled'))))`,
        { rolloutId: newcomersOf.id, createdAt: newcomersOf.createdAt },
      );
    }
    return query.limit(limit).getMany();
  }

  /** The rollout's nodes, each with its wave and version; a node already in it is left as it is. */
  async insertNodes(tx: Tx, rolloutId: string, nodes: readonly { nodeId: string; wave: number; modelVersionId: string }[]): Promise<void> {
    if (nodes.length === 0) return;
    await tx.query(
      `INSERT INTO rollout_nodes (rollout_id, node_id, wave, model_version_id)
       SELECT $1, * FROM unnest($2::uuid[], $3::int[], $4::uuid[]) ON CONFLICT DO NOTHING`,
      [rolloutId, nodes.map((n) => n.nodeId), nodes.map((n) => n.wave), nodes.map((n) => n.modelVersionId)],
    );
  }
}
