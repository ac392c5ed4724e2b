import { Injectable } from '@nestjs/common';
import { NotFoundError, TooManyRequestsError, ValidationError } from '#common';
import type { Principal } from '../auth/principal.js';
import { ResultsPolicyService } from '../results-policy/results-policy.service.js';
import { MAX_FEEDBACK_REQUEST_NODES, planFeedbackRequests } from './feedback-requests.js';
import { CONFIDENCE_BOUNDS, CONFIDENCE_BUCKET_COUNT, LATENCY_BUCKET_COUNT, latencyPercentiles } from '#protocol';
import { unpackHistogram } from '../telemetry/packed-histogram.js';
import type { FeedbackDto, FeedbackResultDto, GroupStatsDto, ModelStatsDto, ModelStatsQuery } from './dto/model-stats.dto.js';
import { FeedbackRepository } from './feedback.repository.js';
import { type FeedbackSums, ModelStatsRepository, type RollupSums } from './model-stats.repository.js';
import { DEFAULT_WINDOW, parseGroupBy, parseWindow } from './stats-query.js';

const ACCURACY_STEPS = 12;
/** How long a label waits for its result: the agent's default keeping time (`keptResults.maxHours`). */
export const PENDING_FEEDBACK_HOURS = 24;
/** The most labels held waiting in all (beyond, items are answered as unmatched, not pending). */
export const MAX_PENDING_FEEDBACK = 100_000;
const rate = (part: number, whole: number) => (whole > 0 ? part / whole : null);

/** One group's figures from its rollup sums and feedback counts. */
function groupStats(key: string | null, sums: RollupSums | undefined, feedback: FeedbackSums | undefined): GroupStatsDto {
  const inferences = sums?.inferences ?? 0;
  const errors = sums?.errors ?? 0;
  const results = sums?.results ?? 0;
  const confidence = unpackHistogram(sums?.confidenceHist ?? null, CONFIDENCE_BUCKET_COUNT);
  const [labelled, correct] = [feedback?.labelled ?? 0, feedback?.correct ?? 0];
  return {
    key,
    inferences,
    errors,
    errorRate: rate(errors, inferences),
    latencyMs: latencyPercentiles(unpackHistogram(sums?.latencyHist ?? null, LATENCY_BUCKET_COUNT)),
    results,
    confidences: sums?.confidences ?? 0,
    meanConfidence: rate(sums?.confidenceSum ?? 0, sums?.confidences ?? 0),
    confidence: Array.from({ length: CONFIDENCE_BUCKET_COUNT }, (_, i) => ({ le: CONFIDENCE_BOUNDS[i] as number, count: confidence[i] ?? 0 })),
    feedback: { labelled, correct, accuracy: rate(correct, labelled) },
  };
}

/** Per-version model health (docs/model-health.md): read from the rollups and the joined feedback. */
@Injectable()
export class ModelStatsService {
  constructor(
    private readonly repository: ModelStatsRepository,
    private readonly feedbackRepository: FeedbackRepository,
    private readonly policies: ResultsPolicyService,
  ) {}

  async versionStats(model: string, version: string, query: ModelStatsQuery, now = new Date()): Promise<ModelStatsDto> {
    const windowSeconds = parseWindow(query.window);
    const grouping = parseGroupBy(query.groupBy);
    const versions = await this.repository.versions(model, version, query.variant);
    if (versions.length === 0) throw new NotFoundError('model version', `${model}@${version}${query.variant ? `/${query.variant}` : ''}`);
    const ids = versions.map((v) => v.id);
    const stepSeconds = Math.max(60, Math.ceil(windowSeconds / ACCURACY_STEPS / 60) * 60);
    const [sums, feedback, accuracy] = await Promise.all([
      this.repository.rollups(ids, windowSeconds, grouping),
      this.repository.feedback(ids, windowSeconds, grouping),
      this.repository.accuracyOverTime(ids, windowSeconds, stepSeconds),
    ]);
    const keys = [...new Set([...sums, ...feedback].filter((r) => !r.total).map((r) => r.key))].sort((a, b) => (a ?? '').localeCompare(b ?? ''));
    const groupOf = <T extends { key: string | null; total: boolean }>(rows: readonly T[], key: string | null) => rows.find((r) => !r.total && r.key === key);
    return {
      model,
      version,
      variants: versions.map((v) => v.variant),
      window: query.window ?? DEFAULT_WINDOW,
      from: new Date(now.getTime() - windowSeconds * 1000).toISOString(),
      to: now.toISOString(),
      groupBy: grouping.kind === 'none' ? null : grouping.kind === 'node' ? 'node' : `label:${grouping.key}`,
      total: groupStats(null, sums.find((r) => r.total), feedback.find((r) => r.total)),
      groups: grouping.kind === 'none' ? [] : keys.map((key) => groupStats(key, groupOf(sums, key), groupOf(feedback, key))),
      accuracyOverTime: accuracy.map((p) => ({ from: new Date(p.from).toISOString(), labelled: p.labelled, correct: p.correct, accuracy: rate(p.correct, p.labelled) })),
    };
  }

  /**
   * Joins labels to stored results; a label whose result is not stored may be kept on a node (results
   * policy `sample` or `aggregates`): it is held (`pending_feedback`) and the result requested from its
   * node, or from the nodes that served `model`@`version` in the last PENDING_FEEDBACK_HOURS, one request
   * per node through the rate-limited results-requests path. Ingest joins it when the result arrives.
   */
  async recordFeedback(by: Principal, body: FeedbackDto): Promise<FeedbackResultDto> {
    if ((body.model === undefined) !== (body.version === undefined)) {
      throw new ValidationError('give model and version together', [{ field: body.model === undefined ? 'model' : 'version', message: 'model and version go together' }]);
    }
    const unmatched = await this.feedbackRepository.record(body.items);
    const answer = { received: body.items.length, matched: body.items.length - unmatched.length, unmatched, pending: 0, requestedNodes: 0, rateLimitedNodes: 0 };
    if (unmatched.length === 0) return answer;
    const since = new Date(Date.now() - PENDING_FEEDBACK_HOURS * 3600_000);
    const unmatchedItems = unmatched.map((position) => ({ position, ...(body.items[position] as FeedbackDto['items'][number]) }));
    const serving = body.model !== undefined && body.version !== undefined && unmatchedItems.some((i) => i.nodeId === undefined)
      ? await this.feedbackRepository.servingNodes(body.model, body.version, since, MAX_FEEDBACK_REQUEST_NODES)
      : [];
    const plan = planFeedbackRequests(unmatchedItems, serving);
    const held = unmatchedItems.filter((i) => plan.nodesOf.has(i.position));
    // Held before the requests go out: a node answering at once must find the label waiting.
    if (held.length === 0 || (await this.feedbackRepository.holdPending(held, new Date(Date.now() + PENDING_FEEDBACK_HOURS * 3600_000), MAX_PENDING_FEEDBACK)) === 0) return answer;
    const asked = new Set<string>();
    for (const [nodeId, inputRefs] of plan.byNode) {
      try {
        await this.policies.requestResults(by, nodeId, { inputRefs });
        asked.add(nodeId);
      } catch (error) {
        if (error instanceof TooManyRequestsError) answer.rateLimitedNodes++;
        else if (!(error instanceof NotFoundError)) throw error; // a decommissioned or unknown node: nothing to ask
      }
    }
    answer.requestedNodes = asked.size;
    answer.pending = held.filter((i) => (plan.nodesOf.get(i.position) ?? []).some((n) => asked.has(n))).length;
    return answer;
  }
}
