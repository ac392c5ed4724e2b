import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { ApiTags } from '@nestjs/swagger';
import { type HealthCheckResult, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/principal.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { RedisConnection } from '../queues/redis.js';

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
  ) {}

  /**
   * 200 when PostgreSQL, Redis and the MQTT broker all answer; 503 naming the ones that do not. The body
   * keeps Terminus's well-known shape (not problem+json): probes and dashboards already read it.
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
    ]);
  }
}
