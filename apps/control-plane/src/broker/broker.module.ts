import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { AnonymousBrokerAccess, BrokerAccess } from './broker-access.js';
import { DynsecBrokerAccess } from './dynsec-broker-access.js';

@Module({
  imports: [MessagingModule],
  providers: [
    {
      provide: BrokerAccess,
      inject: [APP_CONFIG, MqttConnection],
      useFactory: (config: AppConfig, mqtt: MqttConnection) => (config.mqtt.dynsec ? new DynsecBrokerAccess(mqtt, config) : new AnonymousBrokerAccess()),
    },
  ],
  exports: [BrokerAccess],
})
export class BrokerModule {}
