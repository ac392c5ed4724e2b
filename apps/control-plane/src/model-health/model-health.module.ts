import { Module } from '@nestjs/common';
import { ResultsPolicyModule } from '../results-policy/results-policy.module.js';
import { DriftController } from './drift.controller.js';
import { DriftRepository } from './drift.repository.js';
import { DriftService } from './drift.service.js';
import { FeedbackRepository } from './feedback.repository.js';
import { ModelHealthMetrics } from './model-health.metrics.js';
import { VersionMetricsRepository } from './version-metrics.repository.js';
import { ModelStatsController } from './model-stats.controller.js';
import { ModelStatsRepository } from './model-stats.repository.js';
import { ModelStatsService } from './model-stats.service.js';

/** Per-version model health: stats from the rollups, ground truth (feedback), drift, Prometheus series. */
@Module({
  imports: [ResultsPolicyModule],
  controllers: [ModelStatsController, DriftController],
  providers: [ModelStatsService, ModelStatsRepository, FeedbackRepository, ModelHealthMetrics, VersionMetricsRepository, DriftService, DriftRepository],
})
export class ModelHealthModule {}
