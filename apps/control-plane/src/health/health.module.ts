import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MessagingModule } from '../messaging/messaging.module.js';
import { QueuesModule } from '../queues/queues.module.js';
import { TelemetryModule } from '../telemetry/telemetry.module.js';
import { HealthController } from './health.controller.js';

@Module({ imports: [TerminusModule.forRoot({ logger: false }), MessagingModule, QueuesModule, TelemetryModule], controllers: [HealthController] })
export class HealthModule {}
