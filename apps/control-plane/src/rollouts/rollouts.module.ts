import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { DeploymentsModule } from '../deployments/deployments.module.js';
import { ModelsModule } from '../models/models.module.js';
import { GateJudge } from './gate-judge.js';
import { GateSignalsRepository } from './gate-signals.repository.js';
import { ShadowModule } from '../shadow/shadow.module.js';
import { RolloutEngine } from './rollout-engine.js';
import { RolloutMetrics } from './rollout-metrics.js';
import { RolloutMetricsRepository } from './rollout-metrics.repository.js';
import { GateStatsRepository } from './gate-stats.repository.js';
import { RolloutTargetingRepository } from './rollout-targeting.repository.js';
import { RolloutViewsRepository } from './rollout-views.repository.js';
import { RolloutQueue } from './rollout-queue.js';
import { RolloutRepository } from './rollout.repository.js';
import { RollbackRepository } from './rollback.repository.js';
import { RolloutStatsService } from './rollout-stats.service.js';
import { RolloutTargeting } from './rollout-targeting.js';
import { RolloutsController } from './rollouts.controller.js';
import { RolloutsService } from './rollouts.service.js';
import { ShadowWaves } from './shadow-waves.js';

@Module({
  imports: [AuditModule, DeploymentsModule, ModelsModule, ShadowModule],
  controllers: [RolloutsController],
  providers: [RolloutsService, RolloutStatsService, RolloutEngine, RolloutQueue, RolloutRepository, RollbackRepository, RolloutTargeting, RolloutMetrics, RolloutMetricsRepository, GateSignalsRepository, GateStatsRepository, RolloutTargetingRepository, RolloutViewsRepository, GateJudge, ShadowWaves],
})
export class RolloutsModule {}
