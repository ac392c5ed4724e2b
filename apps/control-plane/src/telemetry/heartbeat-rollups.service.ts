import { Injectable, Logger } from '@nestjs/common';
import { HeartbeatRollupsRepository, type RollUpRun } from './heartbeat-rollups.repository.js';

/**
 * Heartbeats are rolled up by this job (run by the maintenance queue every ROLLUP_INTERVAL_MS), not at
 * ingest: docs/model-health.md#how-heartbeats-reach-the-rollups.
 */
@Injectable()
export class HeartbeatRollupsService {
  private readonly logger = new Logger(HeartbeatRollupsService.name);

  constructor(private readonly repository: HeartbeatRollupsRepository) {}

  /**
   * Rolls up every whole minute it safely can. The 5 s margin covers the instant between a transaction's
   * start and pg_stat_activity showing it.
   */
  async run(): Promise<RollUpRun | null> {
    const run = await this.repository.rollUp({ alignToMinute: true, marginMs: 5000 });
    if (run) this.logger.debug(run, 'heartbeats rolled up');
    return run;
  }
}
