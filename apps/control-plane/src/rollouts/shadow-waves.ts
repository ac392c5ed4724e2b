import { Injectable } from '@nestjs/common';
import type { ShadowDecision } from '#protocol';
import type { Tx } from '../database/transactions.js';
import { judgeShadow, type ShadowVerdict } from '../shadow/shadow-gate.js';
import { ShadowReportsRepository } from '../shadow/shadow-reports.repository.js';
import type { Step } from './decide.js';
import { ROLLOUT_STOPPED } from './wave-shadow-view.js';
import { RolloutRepository } from './rollout.repository.js';
import type { Rollout } from './rollout.entity.js';

const ENGINE = 'engine';

/**
 * A rollout's shadow evaluation, per wave, inside its tick: the verdict `decide` sees, and what it
 * leads to — the wave's shadowing nodes are told `activate` (pass) or `abandon` (fail, or any halt),
 * by a decision signed into their desired states after the commit (the tick's publish step). Nodes only
 * activate on that signed decision, so a failed wave's nodes never serve the candidate.
 */
@Injectable()
export class ShadowWaves {
  constructor(
    private readonly reports: ShadowReportsRepository,
    private readonly repository: RolloutRepository,
  ) {}

  /** The current wave's verdict; null without `strategy.shadow`. */
  async judge(tx: Tx, rollout: Rollout, now: Date): Promise<ShadowVerdict | null> {
    const settings = rollout.strategy.shadow;
    if (!settings) return null;
    return judgeShadow(settings, await this.reports.waveFigures(tx, rollout.id, rollout.currentWave), now);
  }

  /**
   * After the tick's step: a passing wave's shadowing nodes are approved (those that start shadowing
   * later in the same wave too, on a later tick); a failed verdict abandons the wave's undecided nodes.
   * An event with the figures whenever nodes are decided. Runs before the step moves to another wave.
   */
  async follow(tx: Tx, rollout: Rollout, verdict: ShadowVerdict | null, step: Step): Promise<void> {
    if (!verdict || verdict.kind === 'wait' || rollout.state !== 'running') return;
    if (step.kind === 'halt') return; // stop() abandons every undecided node
    const wave = rollout.currentWave;
    const decided = await this.reports.decide(tx, rollout.id, verdict.kind === 'pass' ? 'activate' : 'abandon', wave);
    if (decided.length > 0) await this.event(tx, rollout, wave, verdict, decided.length, verdict.kind === 'pass' ? 'activate' : 'abandon');
  }

  /** A stopped rollout gives up on nodes told to abandon that stayed silent past their deadline (a node-failed event each). */
  async expireAbandoning(tx: Tx, rollout: Rollout, now: Date): Promise<void> {
    if (!rollout.strategy.shadow) return;
    const expired = await this.reports.expireAbandoning(tx, rollout.id, now);
    for (const nodeId of expired.slice(0, 100)) await this.repository.event(tx, rollout.id, 'node-failed', ENGINE, { nodeId, reason: 'timeout: never confirmed the abandon' });
  }

  /** Whether a stopped rollout still waits for nodes it told to abandon (their outcome is folded in by its ticks). */
  abandoning(tx: Tx, rollout: Rollout): Promise<boolean> {
    return rollout.strategy.shadow ? this.reports.abandoning(tx, rollout.id) : Promise.resolve(false);
  }

  /**
   * A halted or aborted rollout: every node still shadowing is told to drop the candidate, and so is
   * every node approved that has not activated it yet (the approval was for a rollout that goes on).
   */
  async abandonAll(tx: Tx, rollout: Rollout, verdict: ShadowVerdict | null): Promise<void> {
    if (!rollout.strategy.shadow) return;
    // Nodes learn why: a candidate the gate failed, or a rollout stopped for another cause (`cancelled` on the node).
    const decided = await this.reports.abandonAll(tx, rollout.id, abandonCause(verdict));
    if (decided.length > 0 || verdict?.kind === 'fail') await this.event(tx, rollout, rollout.currentWave, verdict, decided.length, 'abandon');
  }

  /**
   * Nodes abandoned while the gate passed or waited were abandoned because the rollout stopped: the event
   * says so (`none`: no verdict on the candidate, ROLLOUT_STOPPED), as the rollout's view does, never
   * `pass` with a decision its nodes were not sent nor `fail` for a candidate nobody judged.
   */
  private event(tx: Tx, rollout: Rollout, wave: number, verdict: ShadowVerdict | null, nodes: number, decision: ShadowDecision): Promise<void> {
    const cause = decision === 'abandon' ? abandonCause(verdict) : undefined;
    const outcome = decision === 'activate' ? 'pass' : cause === 'gate' ? 'fail' : 'none';
    const reason = verdict?.kind === 'fail' ? verdict.reason : cause === 'stopped' ? ROLLOUT_STOPPED : undefined;
    return this.repository.event(tx, rollout.id, 'shadow-verdict', ENGINE, {
      wave: wave + 1,
      verdict: outcome,
      decision,
      // What a subscriber tells a failed candidate (`gate`) from a stopped rollout's abandon (`stopped`) by.
      ...(cause ? { cause } : {}),
      nodes,
      ...(reason ? { reason } : {}),
      ...(verdict ? { figures: { ...verdict.figures, since: verdict.figures.since?.toISOString() ?? null } } : {}),
    });
  }
}

/** Why nodes are abandoned: the gate failed the candidate, or the rollout stopped while the gate had not. */
function abandonCause(verdict: ShadowVerdict | null): 'gate' | 'stopped' {
  return verdict?.kind === 'fail' ? 'gate' : 'stopped';
}
