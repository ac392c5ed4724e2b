import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, type EntityManager, In } from 'typeorm';
import { ConflictError, NotFoundError, type RecurringWindow, UnprocessableError, ValidationError } from '#common';
import { chunkCount, type ResultsPolicy, resultsPolicySchema, SHADOW_DECISIONS, type ShadowDecision, type ShadowOrder } from '#protocol';
import { parseManifestEnvelope } from '#trust';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { SigningService } from '../keys/signing.service.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { ModelVersion } from '../models/model-version.entity.js';
import { ModelsService } from '../models/models.service.js';
import { parseLabelSelector, selectorToSql } from '../nodes/label-selector.js';
import { EdgeNode } from '../nodes/node.entity.js';
import { BrokerAccess } from '../broker/broker-access.js';
import { DeploymentTarget } from './deployment-target.entity.js';
import { Deployment } from './deployment.entity.js';
import { BroadcastQueue } from './broadcast-queue.js';
import { encodeDesiredState } from './desired-state-message.js';

export interface DeploymentRequest {
  readonly modelVersionId: string;
  readonly nodeIds?: string[];
  readonly selector?: string;
}

export interface DeploymentSummary {
  readonly deployment: Deployment;
  readonly nodeIds: string[];
  readonly chunkCount: number;
  /** Chunk publishes the broadcast makes: one per chunk, whatever the number of nodes. */
  readonly chunkPublishes: number;
}

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

const MAX_TARGETS = 100_000;

/**
 * Tells a batch of nodes to run one model version: records the deployment, publishes each node's
 * signed desired state (retained), lets the nodes read the artifact's chunks, and broadcasts the
 * chunks once for the whole batch (as soon as the batch is ready for them).
 */
@Injectable()
export class DeploymentsService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly signing: SigningService,
    private readonly mqtt: MqttConnection,
    private readonly broadcasts: BroadcastQueue,
    private readonly brokerAccess: BrokerAccess,
    private readonly models: ModelsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(by: Principal, request: DeploymentRequest): Promise<DeploymentSummary> {
    await this.signedVersion(request.modelVersionId);
    const nodes = await this.resolveTargets(request);
    if (nodes.length === 0) throw new ValidationError('no active node matches the deployment target');
    const nodeIds = nodes.map((n) => n.id);
    const deployment = await this.db.transaction(async (tx) => {
      // An older version (or one a rollback overtook) is re-signed under the model's next sequence here.
      const sequence = await this.models.issue(tx, request.modelVersionId);
      const saved = await this.record(tx, by.actor, request.modelVersionId, nodeIds, null);
      await this.overrideRolloutDeliveries(tx, saved, nodeIds);
      await this.audit.record(tx, by, 'deployment.create', { type: 'deployment', id: saved.id }, { modelVersionId: request.modelVersionId, nodes: nodes.length, sequence });
      return saved;
    });
    const version = await this.signedVersion(request.modelVersionId);
    // Stored already: the request answers even while Redis is away (the broadcast is queued when it is back).
    const chunkPublishes = await this.deliver(deployment, version, nodeIds, { waitForRedis: false });
    return { deployment, nodeIds, chunkCount: chunkCount(version.artifact.sizeBytes, deployment.chunkSize), chunkPublishes };
  }

  /** A model version with its artifact, refused unless its manifest is signed. */
  async signedVersion(id: string): Promise<ModelVersion> {
    const version = await this.db.getRepository(ModelVersion).findOne({ where: { id }, relations: { artifact: true } });
    if (!version) throw new NotFoundError('model version', id);
    if (!('signed' in version.manifest)) throw new ConflictError('this version has no signed manifest; upload it again');
    return version;
  }

  /**
   * A deployment by hand overrides what a rollout is sending the same nodes. A node a rollout is waiting
   * on (or about to retry, or that failed there) with another version leaves that rollout as `superseded`, as when a newer
   * rollout takes it, instead of failing or timing out there; with the same version, the rollout follows
   * this deployment instead of its own (its outcome is the node's outcome there, under the rollout's node
   * timeout). Nodes the rollout has not reached yet keep their place; if they run the rollout's version
   * by then, the rollout counts them as done.
   */
  private async overrideRolloutDeliveries(tx: EntityManager, deployment: Deployment, nodeIds: readonly string[]): Promise<void> {
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

  /** Records a deployment and its targets in the caller's transaction (nothing is sent yet). */
  async record(
    tx: EntityManager,
    actor: string,
    modelVersionId: string,
    nodeIds: readonly string[],
    rolloutId: string | null,
    activationWindow: RecurringWindow | null = null,
    shadow: ShadowOrder | null = null,
  ): Promise<Deployment> {
    const repo = tx.getRepository(Deployment);
    const saved = await repo.save(repo.create({ modelVersionId, rolloutId, activationWindow, shadow, chunkSize: this.config.distribution.chunkSizeBytes, createdBy: actor }));
    await tx.getRepository(DeploymentTarget).insert(nodeIds.map((nodeId) => ({ deploymentId: saved.id, nodeId, state: null, stateSeq: null, reason: null })));
    return saved;
  }

  /**
   * Sends a recorded deployment: lets the nodes read the artifact, queues the broadcast of its chunks
   * (once, when every node has opened its download or after `BROADCAST_WAIT_MS`; see BroadcastQueue)
   * and publishes each node's signed desired state (retained). Safe to repeat: a node that already has
   * this deployment's desired state ignores the same one again, and the broadcast is queued once per
   * deployment. Returns the chunk publishes the broadcast makes. `waitForRedis: false` (a request path)
   * waits for Redis to take the broadcast at most a second (see BroadcastQueue.scheduleForRequest).
   */
  async deliver(deployment: Deployment, version: ModelVersion, nodeIds: readonly string[], { waitForRedis = true } = {}): Promise<number> {
    const layout = { sha256: version.artifactSha256, size: version.artifact.sizeBytes, chunkSize: deployment.chunkSize };
    await this.brokerAccess.allowArtifact([...nodeIds], layout.sha256);
    // Queued first: a node's `downloading` can come back before the last desired state is out.
    if (waitForRedis) await this.broadcasts.schedule(deployment.id, layout);
    else await this.broadcasts.scheduleForRequest(deployment.id, layout);
    await this.publishDesiredStates(deployment, nodeIds, version, layout);
    return chunkCount(layout.size, layout.chunkSize);
  }

  /**
   * The desired states still retained for nodes (each active node's newest deployment) that expire
   * within `within` ms, grouped by deployment: what the re-signing job renews.
   */
  expiringRetained(within: number, limit = 10_000): Promise<Map<string, string[]>> {
    return this.retained(`latest.desired_expires_at < now() + make_interval(secs => $1)`, [within / 1000], limit);
  }

  /**
   * Re-signs and re-publishes a deployment's desired states for these nodes with a fresh lifetime: a node
   * offline for longer than the lifetime then still finds a valid command when it returns. Idempotent:
   * a node that already has the deployment ignores the same one again.
   */
  async republish(deploymentId: string, nodeIds: readonly string[]): Promise<void> {
    const deployment = await this.db.getRepository(Deployment).findOneBy({ id: deploymentId });
    if (!deployment) throw new NotFoundError('deployment', deploymentId);
    const version = await this.signedVersion(deployment.modelVersionId);
    const layout = { sha256: version.artifactSha256, size: version.artifact.sizeBytes, chunkSize: deployment.chunkSize };
    await this.publishDesiredStates(deployment, nodeIds, version, layout);
  }

  async get(id: string): Promise<{ deployment: Deployment; targets: DeploymentTarget[] }> {
    const deployment = await this.db.getRepository(Deployment).findOneBy({ id });
    if (!deployment) throw new NotFoundError('deployment', id);
    const targets = await this.db.getRepository(DeploymentTarget).find({ where: { deploymentId: id }, order: { nodeId: 'ASC' } });
    return { deployment, targets };
  }

  /** A node's deployment history, newest first: what it was told to run, by which rollout, and how it went. */
  async history(nodeId: string, limit: number): Promise<NodeDeploymentRecord[]> {
    if (!(await this.db.getRepository(EdgeNode).existsBy({ id: nodeId }))) throw new NotFoundError('node', nodeId);
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

  private async resolveTargets(request: DeploymentRequest): Promise<EdgeNode[]> {
    if ((request.nodeIds === undefined) === (request.selector === undefined)) {
      throw new ValidationError('give exactly one of nodeIds and selector');
    }
    const repo = this.db.getRepository(EdgeNode);
    if (request.nodeIds) {
      const found = await repo.findBy({ id: In(request.nodeIds) });
      const active = found.filter((n) => n.status !== 'decommissioned');
      if (active.length !== new Set(request.nodeIds).size) throw new NotFoundError('active node', request.nodeIds.filter((id) => !active.some((n) => n.id === id)).join(','));
      return active;
    }
    const selector = selectorToSql(parseLabelSelector(request.selector ?? ''), 'n.labels');
    const nodes = await repo
      .createQueryBuilder('n')
      .where(`n.status <> 'decommissioned'`)
      .andWhere(selector.sql, selector.params)
      .limit(MAX_TARGETS + 1)
      .getMany();
    if (nodes.length > MAX_TARGETS) throw new ValidationError(`the selector matches more than ${MAX_TARGETS} nodes; deploy in waves`);
    return nodes;
  }

  /** Signs and publishes (retained) each node's desired state, then records when it expires. */
  private async publishDesiredStates(deployment: Deployment, nodeIds: readonly string[], version: ModelVersion, layout: { sha256: string; size: number; chunkSize: number }): Promise<void> {
    // Re-signed when the release keys changed since upload (a rotation or revocation).
    const manifest = this.signing.manifestForNodes(parseManifestEnvelope(version.manifest));
    const activationWindow = deployment.activationWindow ?? undefined;
    const resultsPolicy = await this.resultsPolicyOf(deployment);
    const decisions = deployment.shadow ? await this.shadowDecisions(deployment.id, nodeIds) : new Map<string, ShadowDecision>();
    const shadowOf = (nodeId: string): ShadowOrder | undefined => {
      if (!deployment.shadow) return undefined;
      const decision = decisions.get(nodeId);
      return { sampleRate: deployment.shadow.sampleRate, ...(decision ? { decision } : {}) };
    };
    const issued = new Date();
    const expires = new Date(issued.getTime() + this.config.trust.desiredStateTtlSeconds * 1000);
    await Promise.all(
      nodeIds.map((nodeId) => {
        const message = encodeDesiredState((state) => this.signing.desiredState(state), { nodeId, deploymentId: deployment.id, manifest, issued, expires, activationWindow, resultsPolicy, shadow: shadowOf(nodeId) }, layout);
        // The broker drops a copy once the document inside has expired: a node returning to its session
        // queue or the retained message is then never handed a document it can only refuse.
        return this.mqtt.publish(this.mqtt.topics.desired(nodeId), message, {
          qos: 1,
          retain: true,
          properties: { messageExpiryInterval: this.config.trust.desiredStateTtlSeconds },
        });
      }),
    );
    await this.db.query(`UPDATE deployment_targets SET desired_expires_at = $3 WHERE deployment_id = $1 AND node_id = ANY($2::uuid[])`, [deployment.id, nodeIds, expires]);
  }

  /** The shadow decisions made for these nodes of a deployment (signed into their desired states). */
  private async shadowDecisions(deploymentId: string, nodeIds: readonly string[]): Promise<Map<string, ShadowDecision>> {
    const rows = (await this.db.query(
      `SELECT node_id AS "nodeId", shadow_decision AS decision FROM deployment_targets WHERE deployment_id = $1 AND node_id = ANY($2::uuid[]) AND shadow_decision IS NOT NULL`,
      [deploymentId, nodeIds],
    )) as { nodeId: string; decision: string }[];
    return new Map(rows.flatMap((r) => (isShadowDecision(r.decision) ? [[r.nodeId, r.decision] as const] : [])));
  }

  /**
   * The results policy a deployment's desired states carry, read when they are signed (so a re-signed
   * copy carries the current one): the rollout's override when the deployment delivers one of the
   * rollout's own versions (not a revert to the version before it), else the model's; none means `all`.
   */
  private async resultsPolicyOf(deployment: Deployment): Promise<ResultsPolicy | undefined> {
    const [row] = (await this.db.query(
      `SELECT COALESCE(CASE WHEN r.variants @> jsonb_build_array(jsonb_build_object('modelVersionId', d.model_version_id::text)) THEN r.results_policy END,
                       m.results_policy) AS policy
         FROM deployments d
         JOIN model_versions mv ON mv.id = d.model_version_id
         JOIN models m ON m.id = mv.model_id
         LEFT JOIN rollouts r ON r.id = d.rollout_id
        WHERE d.id = $1`,
      [deployment.id],
    )) as { policy: unknown }[];
    if (row?.policy == null) return undefined;
    // Written through the same schema by the API; checked again so a hand-edited row cannot sign garbage.
    const parsed = resultsPolicySchema.safeParse(row.policy);
    if (!parsed.success) throw new UnprocessableError(`deployment ${deployment.id}: the stored results policy is not one: ${parsed.error.message}`, { cause: parsed.error });
    return { mode: parsed.data.mode, ...(parsed.data.rate === undefined ? {} : { rate: parsed.data.rate }) };
  }

  /**
   * Each active node whose retained desired state (its newest deployment) is of a version of this model,
   * grouped by deployment: what a change of the model's results policy re-signs.
   */
  retainedOfModel(modelId: string, limit = 10_000): Promise<Map<string, string[]>> {
    return this.retained(`latest.model_version_id IN (SELECT id FROM model_versions WHERE model_id = $1)`, [modelId], limit);
  }

  /**
   * Each active node whose retained desired state (its newest deployment) was delivered by this rollout,
   * grouped by deployment: what a change of the rollout's results policy re-signs.
   */
  retainedOfRollout(rolloutId: string, limit = 10_000): Promise<Map<string, string[]>> {
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
}

/** A stored decision is signed only if it is one the protocol knows (a hand-edited row signs nothing). */
function isShadowDecision(value: string): value is ShadowDecision {
  return (SHADOW_DECISIONS as readonly string[]).includes(value);
}
