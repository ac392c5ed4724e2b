import { Global, Module } from '@nestjs/common';
import { createMetricsRegistry } from './metrics.js';
import { METRICS_REGISTRY, MetricsController } from './metrics.controller.js';

@Global()
@Module({
  controllers: [MetricsController],
  providers: [{ provide: METRICS_REGISTRY, useFactory: createMetricsRegistry }],
  exports: [METRICS_REGISTRY],
})
export class MetricsModule {}
