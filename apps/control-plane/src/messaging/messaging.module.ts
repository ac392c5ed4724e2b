import { Module } from '@nestjs/common';
import { MqttConnection } from './mqtt-connection.js';

@Module({ providers: [MqttConnection], exports: [MqttConnection] })
export class MessagingModule {}
