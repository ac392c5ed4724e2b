import { Module } from '@nestjs/common';
import { MessagingMetrics } from './messaging.metrics.js';
import { MqttConnection } from './mqtt-connection.js';

/** The broker connection and its metrics, shared by every module that publishes. */
@Module({ providers: [MqttConnection, MessagingMetrics], exports: [MqttConnection, MessagingMetrics] })
export class MessagingModule {}
