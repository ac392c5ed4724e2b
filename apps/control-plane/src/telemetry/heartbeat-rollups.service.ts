import { Inject, Injectable, Logger } from '@nestjs/common';
import { isStatementTimeout } from '../database/pg-errors.js';
import { HeartbeatRollupsRepository, type RollUpRun } from './heartbeat-rollups.repository.js';

/** Steps of one job; the next job goes on from there. */
const MAX_STEPS_PER_JOB = 60;
/** Receipt time per step: ten minutes, halved after a step that ran out of time, down to one. */
const MAX_STEP_MINUTES = 10;
/** Warnings that repeat every run (a failing summarize, hidden sessions) are logged at most this often. */
const WARN_EVERY_MS = 3_600_000;

/** What the job needs of its repository (a narrower type than the class: the spec gives a scripted one). */
export type RollupSteps = Pick<HeartbeatRollupsRepository, 'rollUp' | 'summarizeNewRanges' | 'hiddenSessions'>;

/**
 * Heartbeats are rolled up by this job (run by the maintenance queue every ROLLUP_INTERVAL_MS), not at
 * ingest: docs/model-health.md#how-heartbeats-reach-the-rollups.
 */
@Injectable()
export class HeartbeatRollupsService {
  private readonly logger = new Logger(HeartbeatRollupsService.name);
  private stepMinutes = MAX_STEP_MINUTES;
  private readonly warnedAt = new Map<string, number>();

  constructor(@Inject(HeartbeatRollupsRepository) private readonly repository: RollupSteps) {}

  /**
   * Rolls up every whole minute it safely can, in steps that each commit (after an outage, the backlog).
   * A step that runs out of time halves the next ones (a backlog too dense for ten minutes a step would
   * otherwise fail the same way forever); steps that succeed grow back. The 5 s margin covers the instant
   * between a transaction's start and pg_stat_activity showing it. Returns the steps that did something.
   */
  async run(): Promise<RollUpRun[]> {
    const { repository } = this;
    await repository.summarizeNewRanges().catch((error: unknown) => this.warn('summarize', { err: error }, 'BRIN summaries of new heartbeat pages failed; the rollups go on (the tail reads are slower)'));
    const hidden = await repository.hiddenSessions();
    if (hidden > 0) this.warn('hidden', { hidden }, 'sessions of another role are invisible to the rollup job, which cannot wait for their transactions: run every replica as one role (docs/model-health.md)');
    const runs: RollUpRun[] = [];
    for (let step = 0; step < MAX_STEPS_PER_JOB; step++) {
      let run: RollUpRun | null;
      try {
        run = await repository.rollUp({ alignToMinute: true, marginMs: 5000, maxStepMinutes: this.stepMinutes });
      } catch (error) {
        if (!isStatementTimeout(error)) throw error;
        const previous = this.stepMinutes;
        this.stepMinutes = Math.max(1, Math.floor(previous / 2));
        this.logger.warn({ stepMinutes: this.stepMinutes, previous }, 'a heartbeat rollup step ran out of time; the next steps are smaller');
        break;
      }
      if (!run) break;
      runs.push(run);
      this.stepMinutes = Math.min(MAX_STEP_MINUTES, this.stepMinutes * 2);
      this.logger.debug(run, 'heartbeats rolled up');
    }
    return runs;
  }

  /** The current step, in minutes of receipt time. */
  get step(): number {
    return this.stepMinutes;
  }

  private warn(kind: string, context: object, message: string): void {
    const at = Date.now();
    const last = this.warnedAt.get(kind);
    if (last !== undefined && at - last < WARN_EVERY_MS) return;
    this.warnedAt.set(kind, at);
    this.logger.warn(context, message);
  }
}
