import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { AnonymousBrokerAccess, BrokerAccess } from './broker-access.js';
import { DynsecBrokerAccess } from './dynsec-broker-access.js';
import { BrokerHookGuard } from './broker-hook.guard.js';
import { BrokerHooksController } from './broker-hooks.controller.js';
import { BrokerHooksService } from './broker-hooks.service.js';
import { NodeCredentialsRepository } from './node-credentials.repository.js';

@Module({
  imports: [MessagingModule],
  controllers: [BrokerHooksController],
  providers: [
    BrokerHookGuard,
    BrokerHooksService,
    NodeCredentialsRepository,
    {
      provide: BrokerAccess,
      inject: [APP_CONFIG, MqttConnection],
      useFactory: (config: AppConfig, mqtt: MqttConnection) => (config.mqtt.dynsec ? new DynsecBrokerAccess(mqtt, config) : new AnonymousBrokerAccess()),
    },
  ],
  exports: [BrokerAccess],
})
export class BrokerModule {}
