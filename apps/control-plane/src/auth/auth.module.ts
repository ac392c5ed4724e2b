import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuditModule } from '../audit/audit.module.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';
import { KeyRevocations } from './key-revocations.js';
import { WhoamiController } from './whoami.controller.js';

@Module({
  imports: [AuditModule],
  controllers: [ApiKeysController, WhoamiController],
  providers: [ApiKeysService, ApiKeysRepository, KeyRevocations, { provide: APP_GUARD, useClass: ApiKeyGuard }],
  exports: [ApiKeysService, KeyRevocations],
})
export class AuthModule {}
