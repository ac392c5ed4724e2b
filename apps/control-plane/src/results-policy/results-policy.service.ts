import { Inject, Injectable, Logger } from '@nestjs/common';
import { NotFoundError, TooManyRequestsError, ValidationError } from '#common';
import { encodeMessage, envelopeFields, type ResultsPolicy, type ResultsRequestMessage, resultsRequestMessage } from '#protocol';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { Transactions } from '../database/transactions.js';
import { DeploymentsService } from '../deployments/deployments.service.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { TokenBuckets } from '../queues/token-buckets.js';
import { ResultsPolicyRepository } from './results-policy.repository.js';

export interface ResultsRequestInput {
  readonly inputRefs?: readonly string[];
  readonly from?: string;
  readonly to?: string;
}

/** A stored policy equals a new one when mode and rate agree (null, no policy stored, equals nothing set). */
const samePolicy = (stored: ResultsPolicy | null, next: ResultsPolicy): boolean => stored !== null && stored.mode === next.mode && stored.rate === next.rate;

/**
 * What leaves the node (issue 12): a model's results policy, signed into its nodes' desired states, and
 * requests for the results a node kept. Setting a model's policy re-signs the retained desired state of
 * every node that runs (or is being sent) one of its versions, so the change reaches them without a
 * deployment; a rollout's own policy (set at POST /v1/rollouts or changed later) likewise re-signs its nodes'.
 */
@Injectable()
export class ResultsPolicyService {
  private readonly logger = new Logger(ResultsPolicyService.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly repository: ResultsPolicyRepository,
    private readonly audit: AuditService,
    private readonly deployments: DeploymentsService,
    private readonly mqtt: MqttConnection,
    private readonly buckets: TokenBuckets,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async setModelPolicy(by: Principal, name: string, policy: ResultsPolicy): Promise<{ model: string; resultsPolicy: ResultsPolicy; republishedNodes: number }> {
    const model = await this.transactions.run(async (tx) => {
      const found = await this.repository.lockModel(tx, name);
      if (!found) throw new NotFoundError('model', name);
      // The same policy again changes nothing: re-signing every node's desired state (and an audit row)
      // for it would let a repeated PUT make the control plane publish to the whole fleet for free.
      if (samePolicy(found.resultsPolicy, policy)) return null;
      await this.repository.setModelPolicy(tx, found.id, policy);
      await this.audit.record(tx, by, 'model.results-policy', { type: 'model', id: found.id }, { name, resultsPolicy: policy, previous: found.resultsPolicy });
      return found;
    });
    if (!model) return { model: name, resultsPolicy: policy, republishedNodes: 0 };
    return { model: name, resultsPolicy: policy, republishedNodes: await this.republish(await this.deployments.retainedOfModel(model.id)) };
  }

  /**
   * A rollout's own policy, changed after it was created (in any state: the nodes it delivered to keep
   * its desired states after it finishes). As for a model, an unchanged policy re-signs nothing; a new
   * one re-signs the retained desired state of every active node whose newest deployment is the
   * rollout's (`resultsPolicyOf` then reads the rollout's policy for its own versions).
   */
  async setRolloutPolicy(by: Principal, id: string, policy: ResultsPolicy): Promise<{ rolloutId: string; resultsPolicy: ResultsPolicy; republishedNodes: number }> {
    const changed = await this.transactions.run(async (tx) => {
      const found = await this.repository.lockRollout(tx, id);
      if (!found) throw new NotFoundError('rollout', id);
      if (samePolicy(found.resultsPolicy, policy)) return false;
      await this.repository.setRolloutPolicy(tx, id, policy);
      await this.audit.record(tx, by, 'rollout.results-policy', { type: 'rollout', id }, { resultsPolicy: policy, previous: found.resultsPolicy });
      return true;
    });
    if (!changed) return { rolloutId: id, resultsPolicy: policy, republishedNodes: 0 };
    return { rolloutId: id, resultsPolicy: policy, republishedNodes: await this.republish(await this.deployments.retainedOfRollout(id)) };
  }

  /** Re-signs retained desired states after the commit (they read the policy just stored); returns the nodes re-signed. */
  private async republish(retained: Map<string, string[]>): Promise<number> {
    let republishedNodes = 0;
    for (const [deploymentId, nodeIds] of retained) {
      try {
        await this.deployments.republish(deploymentId, nodeIds);
        republishedNodes += nodeIds.length;
      } catch (error) {
        // The policy is stored; the refresher re-signs these with it before they expire.
        this.logger.error({ err: error, deploymentId, nodes: nodeIds.length }, 'could not re-sign desired states with the new results policy');
      }
    }
    return republishedNodes;
  }

  /** Publishes a request for kept results to the node (QoS 1: queued in its session while it is away). */
  async requestResults(by: Principal, nodeId: string, input: ResultsRequestInput): Promise<ResultsRequestMessage> {
    const parsed = resultsRequestMessage.safeParse({ ...envelopeFields(), ...input });
    if (!parsed.success) {
      const violations = parsed.error.issues.map((i) => ({ field: i.path.map(String).join('.') || '(body)', message: i.message }));
      throw new ValidationError(`invalid results request: ${violations.map((v) => `${v.field}: ${v.message}`).join('; ')}`, violations, { cause: parsed.error });
    }
    const request = parsed.data;
    await this.transactions.run(async (tx) => {
      const node = await this.repository.findNode(tx, nodeId);
      if (!node || node.status === 'decommissioned') throw new NotFoundError('active node', nodeId);
      await this.takeRequestToken(nodeId);
      const scope = request.inputRefs ? { inputRefs: request.inputRefs.length } : { from: request.from, to: request.to };
      await this.audit.record(tx, by, 'node.results-request', { type: 'node', id: nodeId }, { requestId: request.id, ...scope });
    });
    await this.mqtt.publish(this.mqtt.topics.resultsRequests(nodeId), encodeMessage('results-requests', request), { qos: 1 });
    return request;
  }

  /**
   * Each request makes the node re-upload up to 1,000 kept results: a token bucket per node (shared by
   * every replica) bounds what any caller can make a node send. Refused requests are neither audited nor sent.
   */
  private async takeRequestToken(nodeId: string): Promise<void> {
    const { burst, perMinute } = this.config.resultsRequests;
    const waitMs = await this.buckets.take(`${this.config.rollouts.queuePrefix}:results-requests:${nodeId}`, { burst, perMinute });
    if (waitMs > 0) {
      throw new TooManyRequestsError(`at most ${perMinute} results requests a minute per node (burst ${burst}); ask again later`, Math.ceil(waitMs / 1000));
    }
  }
}
