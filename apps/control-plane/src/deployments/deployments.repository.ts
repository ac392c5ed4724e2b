import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, type DeepPartial, In } from 'typeorm';
import type { Tx } from '../database/transactions.js';
import { ModelVersion } from '../models/model-version.entity.js';
import { type Requirement, selectorToSql } from '../nodes/label-selector.js';
import { EdgeNode } from '../nodes/node.entity.js';
import { DeploymentTarget } from './deployment-target.entity.js';
import { Deployment } from './deployment.entity.js';

export interface NodeDeploymentRecord {
  readonly deploymentId: string;
  readonly createdAt: Date;
  readonly model: string;
  readonly version: string;
  readonly variant: string;
  readonly modelVersionId: string;
  readonly rolloutId: string | null;
  readonly rolloutName: string | null;
  readonly state: string | null;
  readonly reason: string | null;
  readonly progress: number | null;
  readonly detail: string | null;
  readonly updatedAt: Date;
}

/** Deployments, their targets, and what signing and re-signing their desired states reads. */
@Injectable()
export class DeploymentsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  findVersionWithArtifact(id: string): Promise<ModelVersion | null> {
    return this.db.getRepository(ModelVersion).findOne({ where: { id }, relations: { artifact: true } });
  }

  /** The deployment and one target row per node, in the caller's transaction. */
  async insert(tx: Tx, deployment: DeepPartial<Deployment>, nodeIds: readonly string[]): Promise<Deployment> {
    const repo = tx.getRepository(Deployment);
    const saved = await repo.save(repo.create(deployment));
    await tx.getRepository(DeploymentTarget).insert(nodeIds.map((nodeId) => ({ deploymentId: saved.id, nodeId, state: null, stateSeq: null, reason: null })));
    return saved;
  }

  /**
   * A deployment by hand overrides what a rollout is sending the same nodes. A node a rollout is waiting
   * on (or about to retry, or that failed there) with another version leaves that rollout as `superseded`, as when a newer
   * rollout takes it, instead of failing or timing out there; with the same version, the rollout follows
   * this deployment instead of its own (its outcome is the node's outcome there, under the rollout's node
   * timeout). Nodes the rollout has not reached yet keep their place; if they run the rollout's version
   * by then, the rollout counts them as done.
   */
  async overrideRolloutDeliveries(tx: Tx, deployment: Deployment, nodeIds: readonly string[]): Promise<void> {
    await tx.query(
      `UPDATE rollout_nodes SET state = 'superseded', reason = left('superseded by deployment ' || $1::text, 100), updated_at = now()
        WHERE node_id = ANY($2::uuid[]) AND state IN ('dispatched', 'retry-wait', 'failed') AND model_version_id <> $3`,
      [deployment.id, nodeIds, deployment.modelVersionId],
    );
    await tx.query(
      `UPDATE rollout_nodes rn
          SET state = 'dispatched', deployment_id = $1, published = true, next_attempt_at = NULL, dispatched_at = now(),
              deadline_at = now() + make_interval(secs => (r.strategy->>'nodeTimeoutSeconds')::float8), updated_at = now()
         FROM rollouts r
        WHERE r.id = rn.rollout_id AND r.state IN ('running', 'paused', 'halted')
          AND rn.node_id = ANY($2::uuid[]) AND rn.state IN ('dispatched', 'retry-wait') AND rn.model_version_id = $3`,
      [deployment.id, nodeIds, deployment.modelVersionId],
    );
  }

  findById(id: string): Promise<Deployment | null> {
    return this.db.getRepository(Deployment).findOneBy({ id });
  }

  targets(deploymentId: string): Promise<DeploymentTarget[]> {
    return this.db.getRepository(DeploymentTarget).find({ where: { deploymentId }, order: { nodeId: 'ASC' } });
  }

  nodeExists(nodeId: string): Promise<boolean> {
    return this.db.getRepository(EdgeNode).existsBy({ id: nodeId });
  }

  /** A node's deployment history, newest first. */
  async history(nodeId: string, limit: number): Promise<NodeDeploymentRecord[]> {
    return (await this.db.query(
      `SELECT d.id AS "deploymentId", d.created_at AS "createdAt", m.name AS model, mv.version, mv.variant, mv.id AS "modelVersionId",
              d.rollout_id AS "rolloutId", r.name AS "rolloutName", dt.state, dt.reason, dt.progress, dt.detail, dt.updated_at AS "updatedAt"
         FROM deployment_targets dt
         JOIN deployments d ON d.id = dt.deployment_id
         JOIN model_versions mv ON mv.id = d.model_version_id
         JOIN models m ON m.id = mv.model_id
         LEFT JOIN rollouts r ON r.id = d.rollout_id
        WHERE dt.node_id = $1
        ORDER BY d.created_at DESC, d.id DESC LIMIT $2`,
      [nodeId, limit],
    )) as NodeDeploymentRecord[];
  }

  nodesByIds(ids: readonly string[]): Promise<EdgeNode[]> {
    return this.db.getRepository(EdgeNode).findBy({ id: In([...ids]) });
  }

  /** Active nodes matching a label selector, at most `limit`. */
  activeNodesMatching(selector: readonly Requirement[], limit: number): Promise<EdgeNode[]> {
    const where = selectorToSql(selector, 'n.labels');
    return this.db.getRepository(EdgeNode).createQueryBuilder('n').where(`n.status <> 'decommissioned'`).andWhere(where.sql, where.params).limit(limit).getMany();
  }

  async setDesiredExpiry(deploymentId: string, nodeIds: readonly string[], expires: Date): Promise<void> {
    await this.db.query(`UPDATE deployment_targets SET desired_expires_at = $3 WHERE deployment_id = $1 AND node_id = ANY($2::uuid[])`, [deploymentId, nodeIds, expires]);
  }

  /** The shadow decisions (and an abandon's cause) stored for these nodes of a deployment. */
  shadowDecisions(deploymentId: string, nodeIds: readonly string[]): Promise<{ nodeId: string; decision: string; cause: string | null }[]> {
    return this.db.query(
      `SELECT node_id AS "nodeId", shadow_decision AS decision, shadow_abandon_cause AS cause
         FROM deployment_targets WHERE deployment_id = $1 AND node_id = ANY($2::uuid[]) AND shadow_decision IS NOT NULL`,
      [deploymentId, nodeIds],
    ) as Promise<{ nodeId: string; decision: string; cause: string | null }[]>;
  }

  /**
   * The stored results policy a deployment's desired states carry: the rollout's override when the
   * deployment delivers one of the rollout's own versions (not a revert to the version before it), else
   * the model's; null when neither has one.
   */
  async resultsPolicy(deploymentId: string): Promise<unknown> {
    const [row] = (await this.db.query(
      `SELECT COALESCE(CASE WHEN r.variants @> jsonb_build_array(jsonb_build_object('modelVersionId', d.model_version_id::text)) THEN r.results_policy END,
                       m.results_policy) AS policy
         FROM deployments d
         JOIN model_versions mv ON mv.id = d.model_version_id
         JOIN models m ON m.id = mv.model_id
         LEFT JOIN rollouts r ON r.id = d.rollout_id
        WHERE d.id = $1`,
      [deploymentId],
    )) as { policy: unknown }[];
    return row?.policy ?? null;
  }

  /** Retained desired states (each active node's newest deployment) expiring within `withinMs`, by deployment. */
  retainedExpiring(withinMs: number, limit: number): Promise<Map<string, string[]>> {
    return this.retained(`latest.desired_expires_at < now() + make_interval(secs => $1)`, [withinMs / 1000], limit);
  }

  /** Retained desired states of a version of this model, by deployment. */
  retainedOfModel(modelId: string, limit: number): Promise<Map<string, string[]>> {
    return this.retained(`latest.model_version_id IN (SELECT id FROM model_versions WHERE model_id = $1)`, [modelId], limit);
  }

  /** Retained desired states this rollout delivered, by deployment. */
  retainedOfRollout(rolloutId: string, limit: number): Promise<Map<string, string[]>> {
    return this.retained(`latest.rollout_id = $1`, [rolloutId], limit);
  }

  /** Active nodes' newest deployments (what is retained for them) matching `where` over `latest`, grouped by deployment. */
  private async retained(where: string, params: unknown[], limit: number): Promise<Map<string, string[]>> {
    const due = (await this.db.query(
      `SELECT latest.deployment_id AS "deploymentId", latest.node_id AS "nodeId"
         FROM nodes n
         CROSS JOIN LATERAL (
           SELECT dt.deployment_id, dt.node_id, dt.desired_expires_at, d.model_version_id, d.rollout_id FROM deployment_targets dt JOIN deployments d ON d.id = dt.deployment_id
            WHERE dt.node_id = n.id ORDER BY d.created_at DESC, d.id DESC LIMIT 1) latest
        WHERE n.status <> 'decommissioned' AND ${where}
        LIMIT $${params.length + 1}`,
      [...params, limit],
    )) as { deploymentId: string; nodeId: string }[];
    const byDeployment = new Map<string, string[]>();
    for (const { deploymentId, nodeId } of due) byDeployment.set(deploymentId, [...(byDeployment.get(deploymentId) ?? []), nodeId]);
    return byDeployment;
  }

  /** The artifact's layout in the node's latest deployment of it, and that deployment. */
  /** `sha256` names the bytes that travel: a version's encoded blob when it has one, else its artifact. */
  async assignedArtifact(nodeId: string, sha256: string): Promise<{ id: string; chunkSize: number; sizeBytes: number } | undefined> {
    const rows = (await this.db.query(
      `SELECT d.id, d.chunk_size, a.size_bytes FROM deployment_targets t
         JOIN deployments d ON d.id = t.deployment_id
         JOIN model_versions mv ON mv.id = d.model_version_id
         JOIN artifacts a ON a.sha256 = COALESCE(mv.wire_sha256, mv.artifact_sha256)
       WHERE t.node_id = $1 AND COALESCE(mv.wire_sha256, mv.artifact_sha256) = $2
       ORDER BY d.created_at DESC LIMIT 1`,
      [nodeId, sha256],
    )) as { id: string; chunk_size: number; size_bytes: string }[];
    const row = rows[0];
    return row ? { id: row.id, chunkSize: row.chunk_size, sizeBytes: Number(row.size_bytes) } : undefined;
  }
}
