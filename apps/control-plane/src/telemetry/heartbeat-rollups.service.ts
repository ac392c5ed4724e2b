import { Injectable, Logger } from '@nestjs/common';
import { HeartbeatRollupsRepository, type RollUpRun } from './heartbeat-rollups.repository.js';

/**
 * Heartbeats are rolled up by this job (run by the maintenance queue every ROLLUP_INTERVAL_MS), not at
 * ingest: docs/model-health.md#how-heartbeats-reach-the-rollups.
 */
/** Steps of one job: ten hours of backlog; the next job goes on from there. */
const MAX_STEPS_PER_JOB = 60;

@Injectable()
export class HeartbeatRollupsService {
  private readonly logger = new Logger(HeartbeatRollupsService.name);

  constructor(private readonly repository: HeartbeatRollupsRepository) {}

  /**
   * Rolls up every whole minute it safely can, ten minutes of receipt time per transaction (after an
   * outage, the backlog goes in steps that each commit). The 5 s margin covers the instant between a
   * transaction's start and pg_stat_activity showing it. Returns the runs that did something.
   */
  async run(): Promise<RollUpRun[]> {
    const runs: RollUpRun[] = [];
    for (let step = 0; step < MAX_STEPS_PER_JOB; step++) {
      const run = await this.repository.rollUp({ alignToMinute: true, marginMs: 5000, maxStepMinutes: 10 });
      if (!run) break;
      runs.push(run);
      this.logger.debug(run, 'heartbeats rolled up');
    }
    return runs;
  }
}
