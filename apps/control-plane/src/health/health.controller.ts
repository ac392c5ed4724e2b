import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { ApiTags } from '@nestjs/swagger';
import { type HealthCheckResult, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/principal.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { RedisConnection } from '../queues/redis.js';
import { TelemetryService } from '../telemetry/telemetry.service.js';

const TIMEOUT_MS = 1500;

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly postgres: TypeOrmHealthIndicator,
    private readonly redis: RedisConnection,
    private readonly mqtt: MqttConnection,
    private readonly telemetry: TelemetryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * 200 when PostgreSQL, Redis and the MQTT broker all answer; 503 naming the ones that do not. The body
   * keeps Terminus's well-known shape (not problem+json): probes and dashboards already read it.
   * Telemetry ingest lagging past INGEST_MAX_LAG_MS makes the status `degraded` (still 200: the API
   * serves, but data from the fleet is not being stored).
   */
  @Public()
  @Get()
  async check(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    try {
      return await this.runChecks();
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      res.status(503);
      return error.getResponse() as HealthCheckResult;
    }
  }

  private runChecks(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.postgres.pingCheck('postgres').withTimeout(TIMEOUT_MS),
      () =>
        this.indicators
          .check('redis')
          .attempt(async () => {
            if ((await this.redis.client.ping()) !== 'PONG') throw new Error('unexpected PING reply');
          })
          .withTimeout(TIMEOUT_MS),
      () =>
        this.indicators.check('mqtt').attempt(() => {
          if (!this.mqtt.connected) throw new Error(`not connected to the broker${this.mqtt.lastConnectionError ? ` (${this.mqtt.lastConnectionError})` : ''}`);
        }),
      () => this.ingestCheck(),
    ]);
  }

  /** `degraded` naming the streams whose oldest unwritten item is older than the bound. */
  private ingestCheck() {
    const maxLagMs = this.config.ingest.maxLagMs;
    const streams = Object.fromEntries(this.telemetry.backlog().map(({ table, depth, oldestAgeMs }) => [table, { depth, lagMs: oldestAgeMs }]));
    const lagging = Object.entries(streams)
      .filter(([, s]) => s.lagMs > maxLagMs)
      .map(([table]) => table);
    const session = this.indicators.check('ingest');
    return lagging.length > 0 ? session.degraded({ maxLagMs, lagging, streams }) : session.up({ maxLagMs, streams });
  }
}
