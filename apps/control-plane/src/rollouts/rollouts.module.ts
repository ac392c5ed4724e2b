import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { DeploymentsModule } from '../deployments/deployments.module.js';
import { ModelsModule } from '../models/models.module.js';
import { RolloutEngine } from './rollout-engine.js';
import { RolloutMetrics } from './rollout-metrics.js';
import { RolloutQueue } from './rollout-queue.js';
import { RolloutRepository } from './rollout.repository.js';
import { RolloutStatsService } from './rollout-stats.service.js';
import { RolloutTargeting } from './rollout-targeting.js';
import { RolloutsController } from './rollouts.controller.js';
import { RolloutsService } from './rollouts.service.js';

@Module({
  imports: [AuditModule, DeploymentsModule, ModelsModule],
  controllers: [RolloutsController],
  providers: [RolloutsService, RolloutStatsService, RolloutEngine, RolloutQueue, RolloutRepository, RolloutTargeting, RolloutMetrics],
})
export class RolloutsModule {}
