import { Module } from '@nestjs/common';
import { DeploymentsModule } from '../deployments/deployments.module.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { HeartbeatRollupsRepository } from './heartbeat-rollups.repository.js';
import { HeartbeatRollupsService } from './heartbeat-rollups.service.js';
import { IngestBacklogMetrics } from './ingest-backlog.metrics.js';
import { TelemetryRepository } from './telemetry.repository.js';
import { TelemetryService } from './telemetry.service.js';

@Module({
  imports: [MessagingModule, DeploymentsModule],
  providers: [TelemetryService, TelemetryRepository, IngestBacklogMetrics, HeartbeatRollupsRepository, HeartbeatRollupsService],
  exports: [TelemetryService, HeartbeatRollupsService],
})
export class TelemetryModule {}
