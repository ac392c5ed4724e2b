import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { pruneInBatches, RETENTION_TARGETS, retentionCutoffs, type RetentionTarget } from './retention-plan.js';
import { RetentionRepository } from './retention.repository.js';

/** One retention run: every target cut at its configured age, in bounded batches. */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger(RetentionService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: RetentionRepository,
  ) {}

  async prune(now: Date = new Date()): Promise<Record<RetentionTarget, number>> {
    const { batchRows, maxBatches } = this.config.retention;
    const cutoffs = retentionCutoffs(this.config.retention, now);
    const deleted = { events: 0, 'minute-rollups': 0, 'hourly-rollups': 0 };
    for (const target of RETENTION_TARGETS) {
      deleted[target] = await pruneInBatches((rows) => this.repository.deleteBatch(target, cutoffs[target], rows), batchRows, maxBatches);
    }
    if (Object.values(deleted).some((n) => n > 0)) this.logger.log({ deleted, cutoffs }, 'retention: deleted old rows');
    return deleted;
  }
}
