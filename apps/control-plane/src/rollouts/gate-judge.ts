import { Injectable } from '@nestjs/common';
import type { Tx } from '../database/transactions.js';
import { type GateVerdict, judgeGates } from './health-gate.js';
import { GateSignalsRepository } from './gate-signals.repository.js';
import { GateStatsRepository } from './gate-stats.repository.js';
import type { Rollout } from './rollout.entity.js';
import { combineVerdicts, hasSignalGates, judgeAccuracy, judgeDrift } from './signal-gates.js';
import type { HealthGates } from './strategy.js';

/**
 * Every configured gate of a rollout, read and judged under the tick's transaction: the heartbeat and
 * result gates (health-gate.ts), then accuracy and drift (signal-gates.ts), whose inputs are read only
 * when they are configured.
 */
@Injectable()
export class GateJudge {
  constructor(
    private readonly stats: GateStatsRepository,
    private readonly signals: GateSignalsRepository,
  ) {}

  async judge(tx: Tx, rollout: Rollout, gates: HealthGates): Promise<GateVerdict> {
    const [canary, control] = await this.stats.gateStats(tx, rollout, gates.windowSeconds);
    const health = judgeGates(gates, canary, control);
    if (!hasSignalGates(gates)) return health;
    const accuracy = gates.maxAccuracyDrop === undefined ? null : await this.signals.accuracy(tx, rollout, gates.windowSeconds);
    const drift = gates.maxDrift === undefined ? null : await this.signals.canaryDrift(tx, rollout, gates.windowSeconds);
    return combineVerdicts(
      health,
      accuracy ? judgeAccuracy(gates, accuracy[0], accuracy[1], control.nodes) : { kind: 'pass' },
      drift ? judgeDrift(gates, drift) : { kind: 'pass' },
    );
  }
}
