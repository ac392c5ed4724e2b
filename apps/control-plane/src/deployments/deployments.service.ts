import { Inject, Injectable } from '@nestjs/common';
import { ConflictError, NotFoundError, type RecurringWindow, UnprocessableError, ValidationError } from '#common';
import { chunkCount, type ResultsPolicy, resultsPolicySchema, SHADOW_ABANDON_CAUSES, SHADOW_DECISIONS, type ShadowDecision, type ShadowOrder } from '#protocol';
import { parseManifestEnvelope } from '#trust';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { Transactions, type Tx } from '../database/transactions.js';
import { SigningService } from '../keys/signing.service.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import type { ModelVersion } from '../models/model-version.entity.js';
import { ModelsService } from '../models/models.service.js';
import { parseLabelSelector } from '../nodes/label-selector.js';
import type { EdgeNode } from '../nodes/node.entity.js';
import { BrokerAccess } from '../broker/broker-access.js';
import type { DeploymentTarget } from './deployment-target.entity.js';
import type { Deployment } from './deployment.entity.js';
import { DeploymentsRepository, type NodeDeploymentRecord } from './deployments.repository.js';
import { BroadcastQueue } from './broadcast-queue.js';
import { encodeDesiredState } from './desired-state-message.js';
import { wireLayout } from './wire-layout.js';

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

export type { NodeDeploymentRecord } from './deployments.repository.js';

const MAX_TARGETS = 100_000;

/**
 * Tells a batch of nodes to run one model version: records the deployment, publishes each node's
 * signed desired state (retained), lets the nodes read the artifact's chunks, and broadcasts the
 * chunks once for the whole batch (as soon as the batch is ready for them).
 */
@Injectable()
export class DeploymentsService {
  constructor(
    private readonly transactions: Transactions,
    private readonly repository: DeploymentsRepository,
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
    const deployment = await this.transactions.run(async (tx) => {
      // An older version (or one a rollback overtook) is re-signed under the model's next sequence here.
      const sequence = await this.models.issue(tx, request.modelVersionId);
      const saved = await this.record(tx, by.actor, request.modelVersionId, nodeIds, null);
      // A deployment by hand overrides what a rollout is sending the same nodes (see the repository).
      await this.repository.overrideRolloutDeliveries(tx, saved, nodeIds);
      await this.audit.record(tx, by, 'deployment.create', { type: 'deployment', id: saved.id }, { modelVersionId: request.modelVersionId, nodes: nodes.length, sequence });
      return saved;
    });
    const version = await this.signedVersion(request.modelVersionId);
    // Stored already: the request answers even while Redis is away (the broadcast is queued when it is back).
    const chunkPublishes = await this.deliver(deployment, version, nodeIds, { waitForRedis: false });
    const wire = wireLayout(version, deployment.chunkSize);
    return { deployment, nodeIds, chunkCount: chunkCount(wire.size, wire.chunkSize), chunkPublishes };
  }

  /** A model version with its artifact, refused unless its manifest is signed. */
  async signedVersion(id: string): Promise<ModelVersion> {
    const version = await this.repository.findVersionWithArtifact(id);
    if (!version) throw new NotFoundError('model version', id);
    if (!('signed' in version.manifest)) throw new ConflictError('this version has no signed manifest; upload it again');
    return version;
  }

  /** Records a deployment and its targets in the caller's transaction (nothing is sent yet). */
  async record(
    tx: Tx,
    actor: string,
    modelVersionId: string,
    nodeIds: readonly string[],
    rolloutId: string | null,
    activationWindow: RecurringWindow | null = null,
    shadow: ShadowOrder | null = null,
  ): Promise<Deployment> {
    return this.repository.insert(tx, { modelVersionId, rolloutId, activationWindow, shadow, chunkSize: this.config.distribution.chunkSizeBytes, createdBy: actor }, nodeIds);
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
    const layout = wireLayout(version, deployment.chunkSize);
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
    return this.repository.retainedExpiring(within, limit);
  }

  /**
   * Re-signs and re-publishes a deployment's desired states for these nodes with a fresh lifetime: a node
   * offline for longer than the lifetime then still finds a valid command when it returns. Idempotent:
   * a node that already has the deployment ignores the same one again.
   */
  async republish(deploymentId: string, nodeIds: readonly string[]): Promise<void> {
    const deployment = await this.repository.findById(deploymentId);
    if (!deployment) throw new NotFoundError('deployment', deploymentId);
    const version = await this.signedVersion(deployment.modelVersionId);
    const layout = wireLayout(version, deployment.chunkSize);
    await this.publishDesiredStates(deployment, nodeIds, version, layout);
  }

  async get(id: string): Promise<{ deployment: Deployment; targets: DeploymentTarget[] }> {
    const deployment = await this.repository.findById(id);
    if (!deployment) throw new NotFoundError('deployment', id);
    const targets = await this.repository.targets(id);
    return { deployment, targets };
  }

  /** A node's deployment history, newest first: what it was told to run, by which rollout, and how it went. */
  async history(nodeId: string, limit: number): Promise<NodeDeploymentRecord[]> {
    if (!(await this.repository.nodeExists(nodeId))) throw new NotFoundError('node', nodeId);
    return this.repository.history(nodeId, limit);
  }

  private async resolveTargets(request: DeploymentRequest): Promise<EdgeNode[]> {
    if ((request.nodeIds === undefined) === (request.selector === undefined)) {
      throw new ValidationError('give exactly one of nodeIds and selector');
    }
    if (request.nodeIds) {
      const found = await this.repository.nodesByIds(request.nodeIds);
      const active = found.filter((n) => n.status !== 'decommissioned');
      if (active.length !== new Set(request.nodeIds).size) throw new NotFoundError('active node', request.nodeIds.filter((id) => !active.some((n) => n.id === id)).join(','));
      return active;
    }
    const nodes = await this.repository.activeNodesMatching(parseLabelSelector(request.selector ?? ''), MAX_TARGETS + 1);
    if (nodes.length > MAX_TARGETS) throw new ValidationError(`the selector matches more than ${MAX_TARGETS} nodes; deploy in waves`);
    return nodes;
  }

  /** Signs and publishes (retained) each node's desired state, then records when it expires. */
  private async publishDesiredStates(deployment: Deployment, nodeIds: readonly string[], version: ModelVersion, layout: { sha256: string; size: number; chunkSize: number }): Promise<void> {
    // Re-signed when the release keys changed since upload (a rotation or revocation).
    const manifest = this.signing.manifestForNodes(parseManifestEnvelope(version.manifest));
    const activationWindow = deployment.activationWindow ?? undefined;
    const resultsPolicy = await this.resultsPolicyOf(deployment);
    const decisions = deployment.shadow ? await this.shadowDecisions(deployment.id, nodeIds) : new Map<string, SignedDecision>();
    const shadowOf = (nodeId: string): ShadowOrder | undefined => {
      if (!deployment.shadow) return undefined;
      return { sampleRate: deployment.shadow.sampleRate, ...decisions.get(nodeId) };
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
    await this.repository.setDesiredExpiry(deployment.id, nodeIds, expires);
  }

  /** The shadow decisions made for these nodes of a deployment (signed into their desired states). */
  private async shadowDecisions(deploymentId: string, nodeIds: readonly string[]): Promise<Map<string, SignedDecision>> {
    const rows = await this.repository.shadowDecisions(deploymentId, nodeIds);
    return new Map(rows.flatMap((r) => (isOneOf(SHADOW_DECISIONS, r.decision) ? [[r.nodeId, signedDecision(r.decision, r.cause)] as const] : [])));
  }

  /**
   * The results policy a deployment's desired states carry, read when they are signed (so a re-signed
   * copy carries the current one): the rollout's override when the deployment delivers one of the
   * rollout's own versions (not a revert to the version before it), else the model's; none means `all`.
   */
  private async resultsPolicyOf(deployment: Deployment): Promise<ResultsPolicy | undefined> {
    const policy = await this.repository.resultsPolicy(deployment.id);
    if (policy == null) return undefined;
    // Written through the same schema by the API; checked again so a hand-edited row cannot sign garbage.
    const parsed = resultsPolicySchema.safeParse(policy);
    if (!parsed.success) throw new UnprocessableError(`deployment ${deployment.id}: the stored results policy is not one: ${parsed.error.message}`, { cause: parsed.error });
    return { mode: parsed.data.mode, ...(parsed.data.rate === undefined ? {} : { rate: parsed.data.rate }) };
  }

  /**
   * Each active node whose retained desired state (its newest deployment) is of a version of this model,
   * grouped by deployment: what a change of the model's results policy re-signs.
   */
  retainedOfModel(modelId: string, limit = 10_000): Promise<Map<string, string[]>> {
    return this.repository.retainedOfModel(modelId, limit);
  }

  /**
   * Each active node whose retained desired state (its newest deployment) was delivered by this rollout,
   * grouped by deployment: what a change of the rollout's results policy re-signs.
   */
  retainedOfRollout(rolloutId: string, limit = 10_000): Promise<Map<string, string[]>> {
    return this.repository.retainedOfRollout(rolloutId, limit);
  }
}

/** A stored value is signed only if it is one the protocol knows (a hand-edited row signs nothing). */
function isOneOf<T extends string>(values: readonly T[], value: string | null): value is T {
  return (values as readonly (string | null)[]).includes(value);
}

type SignedDecision = Pick<ShadowOrder, 'decision' | 'abandonCause'>;

/** The decision as signed: an abandon carries its cause when the stored one is known (else the node reads no cause). */
function signedDecision(decision: ShadowDecision, cause: string | null): SignedDecision {
  return decision === 'abandon' && isOneOf(SHADOW_ABANDON_CAUSES, cause) ? { decision, abandonCause: cause } : { decision };
}
