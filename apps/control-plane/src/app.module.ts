import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { ArtifactsModule } from './artifacts/artifacts.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import type { AppConfig } from './config/config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { DeploymentsModule } from './deployments/deployments.module.js';
import { EventsModule } from './events/events.module.js';
import { GatewayModule } from './messaging/gateway.module.js';
import { HealthModule } from './health/health.module.js';
import { KeysModule } from './keys/keys.module.js';
import { TrustModule } from './keys/trust.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ModelHealthModule } from './model-health/model-health.module.js';
import { ModelsModule } from './models/models.module.js';
import { NodesModule } from './nodes/nodes.module.js';
import { ResultsPolicyModule } from './results-policy/results-policy.module.js';
import { RetentionModule } from './retention/retention.module.js';
import { RolloutsModule } from './rollouts/rollouts.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            // Bearer keys and enrolment secrets never reach the logs.
            redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
            customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug'),
          },
        }),
        DatabaseModule.forRoot(config),
        MetricsModule,
        KeysModule,
        TrustModule,
        AuditModule,
        EventsModule,
        AuthModule,
        NodesModule,
        ArtifactsModule,
        ModelsModule,
        DeploymentsModule,
        RolloutsModule,
        WebhooksModule,
        ModelHealthModule,
        ResultsPolicyModule,
        RetentionModule,
        GatewayModule,
        HealthModule,
      ],
    };
  }
}
