import { Injectable } from '@nestjs/common';
import { DeploymentsService } from '../deployments/deployments.service.js';
import { Transactions, type Tx } from '../database/transactions.js';
import { ModelsService } from '../models/models.service.js';
import { type Counts, decide, type Step } from './decide.js';
import type { GateVerdict } from './health-gate.js';
import { GateJudge } from './gate-judge.js';
import { EventRecorder } from '../events/event-recorder.js';
import { nextWindowOpening, windowOpen } from '#common';
import { RolloutMetrics } from './rollout-metrics.js';

import { describeTakeover, RolloutRepository, type TakenOver } from './rollout.repository.js';
import { RollbackRepository } from './rollback.repository.js';
import type { Rollout } from './rollout.entity.js';
import { RolloutViewsRepository } from './rollout-views.repository.js';
import { RolloutTargeting } from './rollout-targeting.js';
import type { ShadowVerdict } from '../shadow/shadow-gate.js';
import { ShadowWaves } from './shadow-waves.js';

/** What a tick leaves for the queue: run again after `nextDelayMs`, or stop (null). */
export interface TickResult {
  readonly seq: number;
  readonly nextDelayMs: number | null;
}

const ENGINE = 'engine';

/**
 * Advances rollouts. One tick = one transaction holding the rollout's row lock: fold in what nodes
 * reported, time out silent nodes, pick up newly matching nodes, then apply the one step `decide`
 * chooses. Publishing to the broker happens after the commit, from rows marked unpublished, so a worker
 * that dies anywhere leaves either nothing done or work the next tick finishes; every tick is idempotent.
 */
@Injectable()
export class RolloutEngine {
  constructor(
    private readonly transactions: Transactions,
    private readonly repository: RolloutRepository,
    private readonly rollbacks: RollbackRepository,
    private readonly views: RolloutViewsRepository,
    private readonly targeting: RolloutTargeting,
    private readonly deployments: DeploymentsService,
    private readonly models: ModelsService,
    private readonly metrics: RolloutMetrics,
    private readonly events: EventRecorder,
    private readonly gateJudge: GateJudge,
    private readonly shadowWaves: ShadowWaves,
  ) {}

  async tick(rolloutId: string, seq: number, tickMs: number): Promise<TickResult | null> {
    const now = new Date();
    const result = await this.transactions.run(async (tx) => {
      const rollout = await this.repository.lock(tx, rolloutId);
      if (!rollout) return null;
      // A redelivered or duplicate job: the tick it stands for already ran; say which one is due.
      if (rollout.tickSeq !== seq) return { rollout, seq: rollout.tickSeq, nextDelayMs: mayNeedTicks(rollout) ? tickMs : null, stale: true };
      const keepTicking = await this.advance(tx, rollout, now);
      rollout.tickSeq += 1;
      await this.repository.update(tx, rollout.id, { tickSeq: rollout.tickSeq });
      const untilStart = rollout.state === 'scheduled' && rollout.scheduledAt ? Math.min(Math.max(rollout.scheduledAt.getTime() - now.getTime(), 0), 60_000) : tickMs;
      return { rollout, seq: rollout.tickSeq, nextDelayMs: keepTicking ? untilStart : null, stale: false };
    });
    if (!result) return null;
    if (!result.stale) await this.publishPending(result.rollout);
    return { seq: result.seq, nextDelayMs: result.nextDelayMs };
  }

  /** Starts a rollout now (state running or awaiting-approval), inside the caller's transaction. */
  async begin(tx: Tx, rollout: Rollout, actor: string, now: Date): Promise<void> {
    if (rollout.strategy.requireApproval && !rollout.approvedBy) {
      await this.repository.transition(tx, rollout, 'awaiting-approval', actor);
      return;
    }
    const planned = await this.targeting.enrol(tx, rollout);
    rollout.waveSizes = planned.waveSizes;
    rollout.startedAt = now;
    await this.repository.update(tx, rollout.id, { waveSizes: planned.waveSizes, startedAt: now, currentWave: 0, bakeUntil: null });
    await this.repository.transition(tx, rollout, 'running', actor, { nodes: planned.nodes, waves: planned.waveSizes, unmatched: planned.unmatched });
    await this.repository.event(tx, rollout.id, 'wave-started', actor, { wave: 1, nodes: planned.waveSizes[0] ?? 0 });
  }

  /** Halts (or aborts) and, when asked, returns every node the rollout reached to its previous version. */
  async stop(tx: Tx, rollout: Rollout, to: 'halted' | 'aborted', reason: string, actor: string, rollback: boolean, shadow: ShadowVerdict | null = null): Promise<void> {
    rollout.haltReason = reason;
    // Kept on the entity too: the abort's answer shows when the rollout finished.
    rollout.finishedAt = new Date();
    await this.repository.update(tx, rollout.id, { haltReason: reason, finishedAt: rollout.finishedAt });
    // Nodes still shadowing are told to drop the candidate: it never activates once the rollout stopped.
    await this.shadowWaves.abandonAll(tx, rollout, shadow);
    await this.repository.transition(tx, rollout, to, actor, { reason, rollback });
    if (to === 'halted') this.metrics.halts.inc();
    if (rollback) await this.revert(tx, rollout, actor);
  }

  /** One tick's work; returns whether the rollout needs more ticks. */
  private async advance(tx: Tx, rollout: Rollout, now: Date): Promise<boolean> {
    if (rollout.state === 'scheduled') {
      if (rollout.scheduledAt && rollout.scheduledAt <= now) await this.begin(tx, rollout, ENGINE, now);
      return mayNeedTicks(rollout);
    }
    if (rollout.state === 'halted' || rollout.state === 'aborted' || rollout.state === 'completed') {
      // Only a fleet rollback, or nodes told to drop a shadowed candidate, are left to follow: fold in
      // their outcomes until none is open. A node silent past its deadline is not waited for: a node
      // that never comes back would keep the rollout ticking forever.
      await this.foldOutcomes(tx, rollout, now);
      await this.expireReverting(tx, rollout, now);
      await this.shadowWaves.expireAbandoning(tx, rollout, now);
      return (await this.reverting(tx, rollout)) || (await this.shadowWaves.abandoning(tx, rollout));
    }
    if (rollout.state !== 'running') return false;

    await this.foldOutcomes(tx, rollout, now);
    await this.timeOut(tx, rollout, now);
    await this.reflectRunning(tx, rollout);
    if (rollout.strategy.continuous) await this.targeting.enrolNewcomers(tx, rollout);
    const counts = await this.repository.counts(tx, rollout.id);
    const gates = rollout.strategy.healthGates;
    const gate = gates ? await this.gateJudge.judge(tx, rollout, gates) : null;
    const shadow = await this.shadowWaves.judge(tx, rollout, now);
    const step = decide({
      strategy: rollout.strategy,
      now,
      currentWave: rollout.currentWave,
      waveCount: rollout.waveSizes.length,
      bakeUntil: rollout.bakeUntil,
      overall: sum([...counts.values()]),
      wave: counts.get(rollout.currentWave) ?? { total: 0, succeeded: 0, failed: 0, open: 0 },
      gate,
      shadow,
      dispatchedLastMinute: rollout.strategy.maxNodesPerMinute ? await this.repository.dispatchedSince(tx, rollout.id, new Date(now.getTime() - 60_000)) : 0,
    });
    await this.reportGate(tx, rollout, gate, step);
    // Before apply: a passing wave's nodes are approved while it is still the current wave.
    await this.shadowWaves.follow(tx, rollout, shadow, step);
    await this.apply(tx, rollout, step, now, shadow);
    return rollout.state === 'running' || (await this.reverting(tx, rollout)) || (await this.shadowWaves.abandoning(tx, rollout));
  }

  /**
   * A gate verdict is an event when it decides something: it halts the rollout, or lets a wave end
   * (advance). Verdicts of the ticks in between change nothing and would flood the stream.
   */
  private async reportGate(tx: Tx, rollout: Rollout, gate: GateVerdict | null, step: Step): Promise<void> {
    if (!gate || !(step.kind === 'advance' || (step.kind === 'halt' && !step.byNodes))) return;
    const reason = gate.kind === 'fail' ? gate.reason : gate.kind === 'wait' ? gate.why : undefined;
    await this.events.record(tx, { type: 'rollout.gate-verdict', subjects: { rolloutId: rollout.id }, payload: { wave: rollout.currentWave + 1, verdict: gate.kind, ...(reason ? { reason } : {}) } });
  }

  private async reverting(tx: Tx, rollout: Rollout): Promise<boolean> {
    return (await this.repository.countNodes(tx, rollout.id, ['reverting'])) > 0;
  }

  private async apply(tx: Tx, rollout: Rollout, step: Step, now: Date, shadow: ShadowVerdict | null): Promise<void> {
    switch (step.kind) {
      case 'halt':
        return this.stop(tx, rollout, 'halted', step.byNodes ? await this.withFailures(tx, rollout, step.reason) : step.reason, ENGINE, rollout.strategy.rollbackOnHalt, shadow);
      case 'superseded':
        await this.repository.update(tx, rollout.id, { finishedAt: now, haltReason: 'every node moved to a newer rollout' });
        return this.repository.transition(tx, rollout, 'superseded', ENGINE);
      case 'complete':
        await this.repository.update(tx, rollout.id, { finishedAt: now });
        return this.repository.transition(tx, rollout, 'completed', ENGINE);
      case 'bake':
        rollout.bakeUntil = step.until;
        await this.repository.update(tx, rollout.id, { bakeUntil: step.until });
        return this.repository.event(tx, rollout.id, 'wave-passed', ENGINE, { wave: rollout.currentWave + 1, bakeUntil: step.until.toISOString() });
      case 'advance': {
        if (rollout.bakeUntil === null) await this.repository.event(tx, rollout.id, 'wave-passed', ENGINE, { wave: rollout.currentWave + 1 });
        rollout.currentWave += 1;
        rollout.bakeUntil = null;
        await this.repository.update(tx, rollout.id, { currentWave: rollout.currentWave, bakeUntil: null });
        return this.repository.event(tx, rollout.id, 'wave-started', ENGINE, {
          wave: rollout.currentWave + 1,
          nodes: rollout.waveSizes[rollout.currentWave] ?? 0,
          ...(step.note ? { note: step.note } : {}),
        });
      }
      case 'dispatch':
        return this.dispatch(tx, rollout, step.budget, now);
      case 'wait':
        return;
    }
  }

  /** Sends the version to up to `budget` open nodes of the current wave: one deployment per variant. */
  private async dispatch(tx: Tx, rollout: Rollout, budget: number, now: Date): Promise<void> {
    if (budget <= 0) return;
    const due = await this.repository.dueNodes(tx, rollout, budget, now);
    const byVersion = groupBy(due, (n) => n.modelVersionId);
    for (const [versionId, nodes] of byVersion) {
      const nodeIds = nodes.map((n) => n.nodeId);
      // Signed for deployment now: a version that a later decision (a rollback, another deployment)
      // overtook is re-issued under the model's next sequence, so nodes accept it.
      await this.models.issue(tx, versionId);
      const shadow = rollout.strategy.shadow ? { sampleRate: rollout.strategy.shadow.sampleRate } : null;
      const deployment = await this.deployments.record(tx, `rollout:${rollout.id}`, versionId, nodeIds, rollout.id, rollout.strategy.maintenanceWindow ?? null, shadow);
      await this.repository.markDispatched(tx, rollout, deployment.id, nodeIds, now, this.deadline(rollout, now));
      const retries = nodes.filter((n) => n.attempts > 0).length;
      if (retries > 0) await this.repository.event(tx, rollout.id, 'nodes-retried', ENGINE, { nodes: retries, deploymentId: deployment.id });
    }
    if (due.length > 0) this.metrics.dispatched.inc(due.length);
  }

  /** A node has `nodeTimeoutSeconds` to commit, counted from when it may activate (the window's opening). */
  private deadline(rollout: Rollout, now: Date): Date {
    const window = rollout.strategy.maintenanceWindow;
    const from = window && !windowOpen(window, now) ? (nextWindowOpening(window, now) ?? now) : now;
    return new Date(from.getTime() + rollout.strategy.nodeTimeoutSeconds * 1000);
  }

  /** Folds node outcomes in; with `retries.onFailure`, a failed node is retried after a backoff while attempts remain. */
  private async foldOutcomes(tx: Tx, rollout: Rollout, now: Date): Promise<void> {
    const changed = await this.repository.foldOutcomes(tx, rollout.id);
    let failed = changed.filter((c) => c.state === 'failed' || c.state === 'revert-failed');
    if (rollout.state === 'running' && rollout.strategy.retries.onFailure) {
      const retried = await this.repository.retryFailed(tx, rollout, failed.filter((c) => c.state === 'failed').map((c) => c.nodeId), now);
      const again = new Set(retried.map((r) => r.nodeId));
      for (const node of retried.slice(0, 100)) await this.repository.event(tx, rollout.id, 'node-retry-scheduled', ENGINE, { nodeId: node.nodeId, attempts: node.attempts, reason: node.reason });
      failed = failed.filter((c) => !again.has(c.nodeId));
    }
    for (const node of failed.slice(0, 100)) await this.repository.event(tx, rollout.id, `node-${node.state}`, ENGINE, { nodeId: node.nodeId, reason: node.reason });
  }

  /** Nodes that already run their target version (a deployment by hand, say) count as succeeded. */
  async reflectRunning(tx: Tx, rollout: Rollout): Promise<void> {
    const done = await this.repository.alreadyRunning(tx, rollout.id);
    if (done.length > 0) await this.repository.event(tx, rollout.id, 'nodes-already-running', ENGINE, { nodes: done.length, nodeIds: done.slice(0, 100) });
  }

  /** A halt reason that names the node failures behind it (the first few), not only their count. */
  private async withFailures(tx: Tx, rollout: Rollout, reason: string): Promise<string> {
    const failures = await this.repository.failures(tx, rollout.id, 3);
    if (failures.length === 0) return reason;
    const named = failures.map((f) => `node ${f.name}: ${f.reason ?? 'failed'}${f.detail ? `: ${f.detail}` : ''}`);
    const more = failures[0] && failures[0].total > failures.length ? `; and ${failures[0].total - failures.length} more` : '';
    return `${reason} — ${named.join('; ')}${more}`;
  }

  /** A stopped rollout gives up on nodes that stayed silent past their revert's deadline (a node-revert-failed event each). */
  private async expireReverting(tx: Tx, rollout: Rollout, now: Date): Promise<void> {
    const expired = await this.rollbacks.expireReverting(tx, rollout.id, now);
    for (const node of expired.slice(0, 100)) await this.repository.event(tx, rollout.id, 'node-revert-failed', ENGINE, { nodeId: node.nodeId, reason: 'timeout: never confirmed the revert' });
  }

  private async timeOut(tx: Tx, rollout: Rollout, now: Date): Promise<void> {
    const timedOut = await this.repository.timeOut(tx, rollout, now);
    for (const node of timedOut.slice(0, 100)) {
      await this.repository.event(tx, rollout.id, node.state === 'failed' ? 'node-failed' : 'node-timed-out', ENGINE, { nodeId: node.nodeId, attempts: node.attempts, reason: 'timeout' });
    }
  }

  /**
   * Fleet rollback: every node this rollout reached goes back to the version it ran before, re-signed
   * under a new sequence (nodes refuse an old sequence). Nodes that rolled back by themselves already
   * run it and answer at once; nodes without a previous version cannot be returned and are marked so;
   * nodes told to drop a shadowed candidate before activating it are left alone (event `nodes-not-reverted`).
   * Also what `POST /v1/rollouts/:id/rollback` runs for a finished rollout. Nodes a newer rollout or a
   * deployment by hand has taken over are left alone (marked superseded): returning them would undo that.
   * Answers how many nodes were sent back and which were taken over.
   */
  async revert(tx: Tx, rollout: Rollout, actor: string): Promise<{ reverting: number; takenOver: TakenOver[] }> {
    const takenOver = await this.repository.supersedeTakenOver(tx, rollout.id, ['dispatched', 'retry-wait', 'succeeded', 'failed']);
    if (takenOver.length > 0) await this.repository.event(tx, rollout.id, 'nodes-taken-over', actor, { nodes: takenOver.length, reasons: takenOver.slice(0, 100).map(describeTakeover) });
    let reverting = 0;
    const reached = await this.rollbacks.reached(tx, rollout.id);
    if (reached.abandoned > 0) {
      await this.repository.event(tx, rollout.id, 'nodes-not-reverted', actor, { nodes: reached.abandoned, reason: 'told to drop the shadowed candidate before activating it: they run their previous version' });
    }
    const toRevert = reached.returnable.filter((n) => n.attempts > 0);
    const orphans = toRevert.filter((n) => n.previousModelVersionId === null).map((n) => n.nodeId);
    if (orphans.length > 0) {
      await this.repository.updateNodes(tx, rollout.id, orphans, { state: 'revert-failed', reason: 'no previous version' });
    }
    const byVersion = groupBy(
      toRevert.filter((n) => n.previousModelVersionId !== null),
      (n) => n.previousModelVersionId as string,
    );
    for (const [versionId, nodes] of byVersion) {
      const sequence = await this.models.issue(tx, versionId);
      const nodeIds = nodes.map((n) => n.nodeId);
      const deployment = await this.deployments.record(tx, `rollout:${rollout.id}`, versionId, nodeIds, rollout.id);
      // A revert gets a deadline of its own (it goes out at once, without the window): a node that never
      // reports is given up on by then instead of keeping the stopped rollout ticking (expireReverting).
      const deadlineAt = new Date(Date.now() + rollout.strategy.nodeTimeoutSeconds * 1000);
      await this.repository.updateNodes(tx, rollout.id, nodeIds, { state: 'reverting', deploymentId: deployment.id, published: false, deadlineAt });
      await this.repository.event(tx, rollout.id, 'rollback-started', actor, { modelVersionId: versionId, nodes: nodeIds.length, sequence, deploymentId: deployment.id });
      reverting += nodeIds.length;
    }
    return { reverting, takenOver };
  }

  /** Publishes the desired states recorded but not yet sent (this tick's, or a crashed worker's). */
  private async publishPending(rollout: Rollout): Promise<void> {
    const rolloutId = rollout.id;
    const pending = await this.views.unpublished(rolloutId);
    for (const [deploymentId, nodes] of groupBy(pending, (n) => n.deploymentId as string)) {
      const deployment = await this.views.deployment(deploymentId);
      const version = await this.deployments.signedVersion(deployment.modelVersionId);
      const nodeIds = nodes.map((n) => n.nodeId);
      // Reverts are urgent and go out without the window; rollout deliveries carry it (recorded on the deployment).
      await this.deployments.deliver(deployment, version, nodeIds);
      await this.views.markPublished(rolloutId, deploymentId, nodeIds);
    }
  }
}

/** States in which a rollout may still have work: a start to make, waves to run, or reverts to follow. */
export function mayNeedTicks(rollout: Rollout): boolean {
  return ['scheduled', 'running', 'halted', 'aborted', 'completed'].includes(rollout.state);
}

function sum(counts: Counts[]): Counts {
  return counts.reduce((a, c) => ({ total: a.total + c.total, succeeded: a.succeeded + c.succeeded, failed: a.failed + c.failed, open: a.open + c.open }), {
    total: 0,
    succeeded: 0,
    failed: 0,
    open: 0,
  });
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
