import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ArtifactRequestMessage, RepairRefusal } from '#protocol';
import { APP_CONFIG, type AppConfig, type RepairLimits } from '../config/config.js';
import { MessagingMetrics } from '../messaging/messaging.metrics.js';
import { DistributionService } from './distribution.service.js';
import { RepairLedger } from './repair-ledger.js';
import { fitBudget, repairBudgetBytes, requestedChunks, totalBytes } from './repair-plan.js';

/** How a repair request was answered; counted by `outcome` in `edgefleet_artifact_repair_requests_total`. */
export type RepairOutcome =
  | { readonly outcome: 'answered' | 'duplicate'; readonly chunks: number }
  | {
      readonly outcome: 'partial' | 'cap-exceeded' | 'rate-limited' | 'not-assigned';
      readonly chunks: number;
      /** The error event's code: the node learns why it got less than it asked for. */
      readonly refusal: RepairRefusal;
      readonly detail: string;
    };

/**
 * Answers a node's request for missing chunks, within limits that hold across replicas (state in
 * Redis, `RepairLedger`): one token per request from the node's bucket; chunks sent to the node within
 * the resend window, or being sent for a concurrent request, left out (so overlapping and repeated
 * requests merge into one answer); repair bytes per node and deployment capped at a multiple of the
 * artifact's size. Without these, one node could make the control plane publish — and the broker queue
 * for it — thousands of times what it sent.
 */
@Injectable()
export class RepairService {
  private readonly logger = new Logger(RepairService.name);
  private readonly limits: RepairLimits;

  constructor(
    private readonly distribution: DistributionService,
    private readonly ledger: RepairLedger,
    private readonly metrics: MessagingMetrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.limits = config.distribution.repair;
  }

  async repair(nodeId: string, request: ArtifactRequestMessage): Promise<RepairOutcome> {
    const outcome = await this.answer(nodeId, request);
    this.metrics.repairRequests.inc({ outcome: outcome.outcome });
    if (outcome.chunks > 0) this.logger.log({ nodeId, sha256: request.sha256, requestId: request.id, outcome: outcome.outcome, chunks: outcome.chunks }, 'answered a repair request');
    return outcome;
  }

  /**
   * A publish that fails leaves its chunks marked for the resend window and their bytes counted: the
   * node asks again after a stall (longer than the window), and the budget errs on the side of less.
   */
  private async answer(nodeId: string, request: ArtifactRequestMessage): Promise<RepairOutcome> {
    const target = await this.distribution.assignedArtifact(nodeId, request.sha256);
    if (!target) return { outcome: 'not-assigned', chunks: 0, refusal: 'not-assigned', detail: 'the artifact is not deployed to this node' };
    if (!(await this.ledger.takeRequestToken(nodeId))) return this.rateLimited();
    const { layout, deploymentId } = target;
    const fresh = await this.ledger.claimChunks(nodeId, layout.sha256, requestedChunks(request.missing, layout));
    if (fresh.length === 0) return { outcome: 'duplicate', chunks: 0 };
    const budget = repairBudgetBytes(layout, this.limits.maxArtifactMultiple);
    const used = await this.ledger.reserveBytes(nodeId, deploymentId, totalBytes(layout, fresh));
    const { send, refused } = fitBudget(layout, fresh, used, budget);
    if (refused.length > 0) {
      await this.ledger.returnBytes(nodeId, deploymentId, totalBytes(layout, refused));
      await this.ledger.releaseChunks(nodeId, layout.sha256, refused);
    }
    await this.distribution.sendRepair(nodeId, layout, send);
    await this.ledger.holdChunks(nodeId, layout.sha256, send);
    if (refused.length === 0) return { outcome: 'answered', chunks: send.length };
    return {
      outcome: send.length > 0 ? 'partial' : 'cap-exceeded',
      chunks: send.length,
      refusal: 'repair-cap-exceeded',
      detail: `repairs for deployment ${deploymentId} are capped at ${budget} bytes (${this.limits.maxArtifactMultiple}x the artifact); ${refused.length} chunks not sent`,
    };
  }

  private rateLimited(): RepairOutcome {
    const { requestsPerMinute, requestBurst } = this.limits;
    return { outcome: 'rate-limited', chunks: 0, refusal: 'repair-rate-limited', detail: `over ${requestsPerMinute} repair requests a minute (burst ${requestBurst}); ask again later` };
  }
}
