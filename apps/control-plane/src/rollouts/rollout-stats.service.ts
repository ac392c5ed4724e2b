import { Injectable } from '@nestjs/common';
import { NotFoundError } from '#common';
import { Transactions } from '../database/transactions.js';
import type { SideStats } from './health-gate.js';
import type { Rollout } from './rollout.entity.js';
import { RolloutViewsRepository } from './rollout-views.repository.js';
import { GateStatsRepository } from './gate-stats.repository.js';
import { GateSignalsRepository } from './gate-signals.repository.js';
import type { AccuracySide, CanaryDrift } from './signal-gates.js';

/** The window of a rollout's stats without health gates (the gates' own default). */
const DEFAULT_STATS_WINDOW_SECONDS = 300;

export interface RolloutStats {
  readonly windowSeconds: number;
  readonly canary: SideStats;
  readonly control: SideStats;
  /** What the accuracy and drift gates read (signal-gates.ts). */
  readonly accuracy: { readonly canary: AccuracySide; readonly control: AccuracySide };
  readonly canaryDrift: CanaryDrift;
}

export interface RolloutStatsPoint {
  readonly from: Date;
  readonly to: Date;
  readonly canary: SideStats;
  readonly control: SideStats;
}

export interface RolloutStatsSeries {
  readonly windowSeconds: number;
  readonly stepSeconds: number;
  /** Oldest first; `steps` of them, back to back, the last ending now. */
  readonly points: readonly RolloutStatsPoint[];
}

/** Canary vs control as the health gates see them: over one window, or as a series of steps over it. */
@Injectable()
export class RolloutStatsService {
  constructor(
    private readonly transactions: Transactions,
    private readonly rollouts: RolloutViewsRepository,
    private readonly gateStats: GateStatsRepository,
    private readonly signals: GateSignalsRepository,
  ) {}

  /** Over the last `windowSeconds` (the gates' window by default). */
  async stats(id: string, windowSeconds?: number): Promise<RolloutStats> {
    const rollout = await this.find(id);
    const window = windowSeconds ?? defaultWindow(rollout);
    return this.transactions.run(async (tx) => {
      const [canary, control] = await this.gateStats.gateStats(tx, rollout, window);
      const [labelledCanary, labelledControl] = await this.signals.accuracy(tx, rollout, window);
      return { windowSeconds: window, canary, control, accuracy: { canary: labelledCanary, control: labelledControl }, canaryDrift: await this.signals.canaryDrift(tx, rollout, window) };
    });
  }

  /**
   * The window cut in `steps` equal steps, each judged as the gates judge a window. One transaction, so every
   * step reads the same now() and the steps meet without a gap or an overlap.
   */
  async series(id: string, steps: number, windowSeconds?: number): Promise<RolloutStatsSeries> {
    const rollout = await this.find(id);
    const window = windowSeconds ?? defaultWindow(rollout);
    const step = window / steps;
    const points = await this.transactions.run(async (tx) => {
      const now = await this.gateStats.now(tx);
      const out: RolloutStatsPoint[] = [];
      // One step at a time: a transaction runs its queries one after another anyway.
      for (let i = 0; i < steps; i++) {
        const endsAgo = (steps - 1 - i) * step;
        const [canary, control] = await this.gateStats.gateStats(tx, rollout, step, endsAgo);
        out.push({ from: new Date(now.getTime() - (endsAgo + step) * 1000), to: new Date(now.getTime() - endsAgo * 1000), canary, control });
      }
      return out;
    });
    return { windowSeconds: window, stepSeconds: step, points };
  }

  private async find(id: string): Promise<Rollout> {
    const rollout = await this.rollouts.findById(id);
    if (!rollout) throw new NotFoundError('rollout', id);
    return rollout;
  }
}

const defaultWindow = (rollout: Rollout): number => rollout.strategy.healthGates?.windowSeconds ?? DEFAULT_STATS_WINDOW_SECONDS;
