import { Module } from '@nestjs/common';
import { ResultsPolicyModule } from '../results-policy/results-policy.module.js';
import { FeedbackRepository } from './feedback.repository.js';
import { ModelHealthMetrics } from './model-health.metrics.js';
import { ModelStatsController } from './model-stats.controller.js';
import { ModelStatsRepository } from './model-stats.repository.js';
import { ModelStatsService } from './model-stats.service.js';

/** Per-version model health: stats from the rollups, ground truth (feedback), Prometheus series. */
@Module({ imports: [ResultsPolicyModule], controllers: [ModelStatsController], providers: [ModelStatsService, ModelStatsRepository, FeedbackRepository, ModelHealthMetrics] })
export class ModelHealthModule {}
