import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../common/openapi.js';
import { type HealthCheckResult, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/principal.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { RedisConnection } from '../queues/redis.js';
import { TelemetryService } from '../telemetry/telemetry.service.js';

const TIMEOUT_MS = 1500;

/** Terminus's result shape: `info`/`error`/`details` map each check name to its status. */
const HEALTH_SCHEMA = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', example: 'ok' },
    info: { type: 'object', additionalProperties: { type: 'object', additionalProperties: true } },
    error: { type: 'object', additionalProperties: { type: 'object', additionalProperties: true } },
    details: { type: 'object', additionalProperties: { type: 'object', additionalProperties: true } },
  },
  example: { status: 'ok', info: { postgres: { status: 'up' } }, error: {}, details: { postgres: { status: 'up' } } },
};

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
  @ApiDoc('Health of the control plane', '200 when PostgreSQL, Redis and the broker answer (status `degraded` when telemetry ingest lags); 503 naming what is down. Terminus body, not problem+json.')
  @ApiOkResponse({ description: 'Up or degraded', schema: HEALTH_SCHEMA })
  @ApiServiceUnavailableResponse({ description: 'A dependency is down', schema: HEALTH_SCHEMA })
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
