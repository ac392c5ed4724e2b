import { Module } from '@nestjs/common';
import { TelemetryModule } from '../telemetry/telemetry.module.js';
import { RetentionQueue } from './retention-queue.js';
import { RetentionRepository } from './retention.repository.js';
import { RetentionService } from './retention.service.js';
import { TelemetryPartitionsRepository } from './telemetry-partitions.repository.js';
import { TelemetryPartitionsService } from './telemetry-partitions.service.js';

/**
 * Deletes old events and model-health rollups, keeps the telemetry tables' partitions (docs/configuration.md#retention);
 * its queue also runs the heartbeat rollup job (telemetry/heartbeat-rollups.service.ts).
 */
@Module({
  imports: [TelemetryModule],
  providers: [RetentionRepository, RetentionService, TelemetryPartitionsRepository, TelemetryPartitionsService, RetentionQueue],
  exports: [RetentionService, TelemetryPartitionsService],
})
export class RetentionModule {}
