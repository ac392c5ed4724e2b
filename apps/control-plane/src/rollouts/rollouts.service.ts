import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConflictError, NotFoundError, ValidationError } from '#common';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { Transactions, type Tx } from '../database/transactions.js';
import type { ModelVersion } from '../models/model-version.entity.js';
import { parseLabelSelector } from '../nodes/label-selector.js';
import { toResultsPolicy } from '../results-policy/results-policy.js';
import { RolloutEngine } from './rollout-engine.js';
import type { RolloutEvent } from './rollout-event.entity.js';
import { RolloutQueue } from './rollout-queue.js';
import { describeTakeover, RolloutRepository } from './rollout.repository.js';
import { RollbackRepository } from './rollback.repository.js';
import { FINAL_ROLLOUT_STATES, type Rollout, type RolloutState } from './rollout.entity.js';
import { type RolloutNodeProgress, RolloutViewsRepository } from './rollout-views.repository.js';
import { type Plan, RolloutTargeting } from './rollout-targeting.js';
import { parseStrategy, parseVariantRules } from './strategy.js';
import type { ShadowGateSettings } from '../shadow/shadow-gate.js';
import { ShadowReportsRepository } from '../shadow/shadow-reports.repository.js';
import type { RolloutShadowDto } from './dto/rollout-shadow.dto.js';
import { waveShadowVerdict, type WaveShadowVerdict } from './wave-shadow-view.js';

export interface RolloutRequest {
  readonly name: string;
  readonly modelVersionId?: string;
  readonly variants?: unknown;
  readonly selector?: string;
  readonly strategy?: unknown;
  /** Overrides the model's results policy for this rollout's deployments of its versions. */
  readonly resultsPolicy?: unknown;
}

/** One node's place in a rollout with what it last reported for its latest delivery. */
export type { RolloutNodeProgress } from './rollout-views.repository.js';

export interface RolloutDetail {
  readonly rollout: Rollout;
  readonly waves: { wave: number; planned: number; states: Record<string, number>; shadow?: RolloutShadowDto }[];
  readonly events: RolloutEvent[];
}

/** States a rollout has not finished in: stopping one (with a rollback) is `abort`'s job. */
const UNFINISHED: readonly RolloutState[] = ['draft', 'scheduled', 'awaiting-approval', 'running', 'paused'];

/**
 * The rollout lifecycle as the API sees it. Every action takes the rollout's row lock, checks the
 * transition is allowed, writes the change, an event and an audit row in one transaction, then queues a
 * tick: the engine does the rest.
 */
@Injectable()
export class RolloutsService {
  constructor(
    private readonly transactions: Transactions,
    private readonly views: RolloutViewsRepository,
    private readonly audit: AuditService,
    private readonly targeting: RolloutTargeting,
    private readonly engine: RolloutEngine,
    private readonly repository: RolloutRepository,
    private readonly rollbacks: RollbackRepository,
    private readonly queue: RolloutQueue,
    private readonly shadowReports: ShadowReportsRepository,
  ) {}

  async create(by: Principal, request: RolloutRequest): Promise<Rollout> {
    const fields = this.validate(request);
    return this.transactions.run(async (tx) => {
      const versions = await this.targeting.versions(tx, fields.variants);
      refuseBlindDriftGate(fields.strategy, [...versions.values()]);
      const modelId = [...versions.values()][0]?.modelId as string;
      const rollout = await this.repository.insert(tx, { ...fields, modelId, state: 'draft', createdBy: by.actor });
      await this.repository.event(tx, rollout.id, 'created', by.actor, { variants: fields.variants.length });
      await this.audit.record(tx, by, 'rollout.create', { type: 'rollout', id: rollout.id }, { name: rollout.name });
      return rollout;
    });
  }

  /** What a rollout would do if it started now: nodes, variant per node, bytes, waves. Writes nothing. */
  async dryRun(request: RolloutRequest): Promise<Plan> {
    const fields = this.validate(request);
    return this.transactions.run((tx) => this.targeting.plan(tx, fields, randomUUID()), 'REPEATABLE READ');
  }

  /** Starts now, or at `at` (state scheduled); with approval required, waits for it first. */
  async start(by: Principal, id: string, at?: Date): Promise<Rollout> {
    return this.act(by, id, 'start', ['draft'], async (tx, rollout) => {
      const now = new Date();
      if (at && at > now) {
        rollout.scheduledAt = at;
        await this.repository.update(tx, id, { scheduledAt: at });
        await this.repository.transition(tx, rollout, 'scheduled', by.actor, { at: at.toISOString() });
        return;
      }
      await this.engine.begin(tx, rollout, by.actor, now);
    });
  }

  async approve(by: Principal, id: string): Promise<Rollout> {
    return this.act(by, id, 'approve', ['draft', 'scheduled', 'awaiting-approval'], async (tx, rollout) => {
      rollout.approvedBy = by.actor;
      await this.repository.update(tx, id, { approvedBy: by.actor });
      await this.repository.event(tx, id, 'approved', by.actor);
      if (rollout.state === 'awaiting-approval') await this.engine.begin(tx, rollout, by.actor, new Date());
    });
  }

  async pause(by: Principal, id: string): Promise<Rollout> {
    return this.act(by, id, 'pause', ['running'], (tx, rollout) => this.repository.transition(tx, rollout, 'paused', by.actor));
  }

  /**
   * Resumes a paused rollout, or a halted one once its cause is fixed: its failed nodes, and those told
   * to drop a shadowed candidate at the halt, are sent the version again (those that meanwhile run it
   * count as succeeded) and the thresholds judge afresh.
   * A halted rollout whose nodes were rolled back cannot resume: start a new one.
   */
  async resume(by: Principal, id: string): Promise<Rollout> {
    return this.act(by, id, 'resume', ['paused', 'halted'], async (tx, rollout) => {
      if (rollout.state === 'paused') return this.repository.transition(tx, rollout, 'running', by.actor);
      if (await this.rollbacks.rolledBack(tx, id)) throw new ConflictError(`cannot resume rollout ${id}: its nodes were rolled back; start a new rollout`);
      // Failed nodes a newer rollout or a deployment by hand has fixed since must not get this version again.
      const takenOver = await this.repository.supersedeTakenOver(tx, id, ['failed']);
      const [first] = takenOver;
      if (first) {
        const open = await this.repository.countNodes(tx, id, ['pending', 'dispatched', 'retry-wait', 'failed']);
        if (open === 0) throw new ConflictError(`cannot resume rollout ${id}: nothing is left to send; ${describeTakeover(first)}`);
        await this.repository.event(tx, id, 'nodes-taken-over', by.actor, { nodes: takenOver.length, reasons: takenOver.slice(0, 100).map(describeTakeover) });
      }
      const now = new Date();
      const retried = [...(await this.repository.requeueFailed(tx, id, now)), ...(await this.repository.requeueAbandoned(tx, id, now))];
      rollout.haltReason = null;
      rollout.finishedAt = null;
      await this.repository.update(tx, id, { haltReason: null, finishedAt: null });
      await this.repository.transition(tx, rollout, 'running', by.actor, { retried: retried.length });
      await this.engine.reflectRunning(tx, rollout);
    });
  }

  /**
   * Sends the version again to one failed node. While the rollout runs (or is paused) the node is due at
   * once; in a halted rollout it waits for the resume.
   */
  async retryNode(by: Principal, id: string, nodeId: string): Promise<Rollout> {
    return this.act(by, id, 'retry a node of', ['running', 'paused', 'halted'], async (tx, rollout) => {
      const node = await this.repository.findNode(tx, id, nodeId);
      if (!node) throw new NotFoundError('rollout node', nodeId);
      if (node.state !== 'failed') throw new ConflictError(`cannot retry node ${nodeId}: it is ${node.state}; only a failed node can be retried`);
      if (rollout.state === 'halted' && (await this.rollbacks.rolledBack(tx, id))) throw new ConflictError(`cannot retry node ${nodeId}: the rollout was rolled back`);
      const [takenOver] = await this.repository.supersedeTakenOver(tx, id, ['failed'], nodeId);
      if (takenOver) throw new ConflictError(`cannot retry node ${nodeId} in rollout ${id}: ${describeTakeover(takenOver)}`);
      await this.repository.requeueFailed(tx, id, new Date(), [nodeId]);
      await this.repository.event(tx, id, 'node-retry-requested', by.actor, { nodeId, previousReason: node.reason });
      if (rollout.state === 'running') await this.engine.reflectRunning(tx, rollout);
    });
  }

  /**
   * Returns every node a finished rollout reached to the version it ran before, each re-issued under a
   * new sequence (the same fleet rollback a halt can trigger). Refused when there is nothing it could
   * return: no reached node had a previous version (or those versions were deleted), none runs the
   * rollout's version (every one failed or abandoned it before activating), or it was rolled back already.
   */
  async rollback(by: Principal, id: string, reason: string): Promise<Rollout> {
    return this.act(by, id, 'roll back', ['completed', 'halted', 'aborted', ...UNFINISHED], async (tx, rollout) => {
      if (UNFINISHED.includes(rollout.state)) {
        throw new ConflictError(`cannot roll back rollout ${id}: it is ${rollout.state}; to stop it and return its nodes use POST /v1/rollouts/${id}/abort with {"rollback": true} (CLI: edgefleet rollouts abort ${id} --rollback)`);
      }
      if (await this.rollbacks.rolledBack(tx, id)) throw new ConflictError(`cannot roll back rollout ${id}: it was rolled back already`);
      const returnable = await this.rollbacks.returnable(tx, id);
      if (returnable.previous === 0) throw new ConflictError(`cannot roll back rollout ${id}: none of its nodes ran an earlier version that still exists`);
      if (returnable.running === 0) {
        throw new ConflictError(
          `cannot roll back rollout ${id}: none of its nodes runs its version, as they last reported (they failed before activating it, abandoned it in shadow, or went back by themselves); they still run what they ran before`,
        );
      }
      await this.repository.event(tx, id, 'rollback-requested', by.actor, { reason, from: rollout.state });
      const { reverting, takenOver } = await this.engine.revert(tx, rollout, by.actor);
      const [first] = takenOver;
      if (reverting === 0 && first) throw new ConflictError(`cannot roll back rollout ${id}: ${describeTakeover(first)}`);
    });
  }

  /** Stops for good; with `rollback`, returns the nodes it reached to their previous version. */
  async abort(by: Principal, id: string, reason: string, rollback: boolean): Promise<Rollout> {
    return this.act(by, id, 'abort', ['draft', 'scheduled', 'awaiting-approval', 'running', 'paused'], (tx, rollout) =>
      this.engine.stop(tx, rollout, 'aborted', reason, by.actor, rollback),
    );
  }

  /** Newest first, keyset-paginated: `after` is the last rollout of the previous page. */
  async list(limit: number, state?: RolloutState, after?: string): Promise<Rollout[]> {
    if (after && !(await this.views.exists(after))) throw new NotFoundError('rollout', after);
    return this.views.list(limit, state, after);
  }

  async get(id: string): Promise<RolloutDetail> {
    const rollout = await this.views.findById(id);
    if (!rollout) throw new NotFoundError('rollout', id);
    const [rows, events, decided] = await Promise.all([this.views.nodeStates(id), this.views.events(id), this.views.shadowVerdicts(id)]);
    const waves = await Promise.all(
      rollout.waveSizes.map(async (planned, wave) => ({
        wave: wave + 1,
        planned,
        states: Object.fromEntries(rows.filter((r) => r.wave === wave).map((r) => [r.state, r.n])),
        ...(rollout.strategy.shadow && wave <= rollout.currentWave ? { shadow: await this.shadowView(rollout, rollout.strategy.shadow, wave, decided.get(wave)) } : {}),
      })),
    );
    return { rollout, waves, events };
  }

  /** A wave's shadow figures and its verdict: the one its nodes were sent, else the gate's now. */
  private async shadowView(rollout: Rollout, settings: ShadowGateSettings, wave: number, decided: WaveShadowVerdict | undefined): Promise<RolloutShadowDto> {
    const figures = await this.shadowReports.waveFiguresNow(rollout.id, wave);
    const over = rollout.state === 'completed' || wave < rollout.currentWave ? 'passed' : FINAL_ROLLOUT_STATES.includes(rollout.state) ? 'stopped' : 'live';
    return { ...figures, since: figures.since?.toISOString() ?? null, ...waveShadowVerdict(settings, figures, decided, over, new Date()) };
  }

  /** Per-node progress with each node's reported phase and failure detail, keyset-paginated by node id. */
  async nodes(id: string, limit: number, after?: string): Promise<RolloutNodeProgress[]> {
    if (!(await this.views.exists(id))) throw new NotFoundError('rollout', id);
    return this.views.nodeProgress(id, limit, after);
  }

  private validate(request: RolloutRequest): Pick<Rollout, 'name' | 'selector' | 'strategy' | 'variants' | 'resultsPolicy'> {
    const variants = parseVariantRules(request.variants ?? (request.modelVersionId ? [{ modelVersionId: request.modelVersionId }] : undefined));
    const selector = request.selector ?? '';
    parseLabelSelector(selector); // a bad selector is a 400 now, not a failed start later
    const resultsPolicy = request.resultsPolicy === undefined ? null : toResultsPolicy(request.resultsPolicy);
    return { name: request.name, selector, strategy: parseStrategy(request.strategy), variants, resultsPolicy };
  }

  private async act(by: Principal, id: string, action: string, from: readonly RolloutState[], change: (tx: Tx, rollout: Rollout) => Promise<void>): Promise<Rollout> {
    const rollout = await this.transactions.run(async (tx) => {
      const row = await this.repository.lock(tx, id);
      if (!row) throw new NotFoundError('rollout', id);
      if (!from.includes(row.state)) {
        const why = FINAL_ROLLOUT_STATES.includes(row.state) ? 'it has finished' : `it is ${row.state}`;
        throw new ConflictError(`cannot ${action} rollout ${id}: ${why}`);
      }
      await change(tx, row);
      await this.audit.record(tx, by, `rollout.${action}`, { type: 'rollout', id }, { state: row.state });
      return row;
    });
    await this.queue.scheduleForRequest(rollout.id, rollout.tickSeq);
    return rollout;
  }
}

/**
 * A drift gate judges against the version's training reference: a version uploaded without
 * `referenceStats` never gets a score, and the gate would wait to the end of every bake, judging nothing.
 */
function refuseBlindDriftGate(strategy: Rollout['strategy'], versions: readonly ModelVersion[]): void {
  if (strategy.healthGates?.maxDrift === undefined) return;
  const blind = versions.find((v) => !(v.manifest as { signed?: { referenceStats?: unknown } }).signed?.referenceStats);
  if (blind) {
    throw new ValidationError(
      `healthGates.maxDrift needs reference statistics, and version ${blind.version} (${blind.variant}) has none: upload it with referenceStats (edgefleet models push --reference-stats) or leave maxDrift out`,
    );
  }
}
