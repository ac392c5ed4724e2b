import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { BrokerModule } from '../broker/broker.module.js';
import { FleetSummaryRepository } from './fleet-summary.repository.js';
import { NodeHeartbeatsRepository } from './node-heartbeats.repository.js';
import { EnrollController, EnrollmentTokensController } from './enrollment.controller.js';
import { EnrollmentChallengeRepository } from './enrollment-challenges.repository.js';
import { EnrollmentService } from './enrollment.service.js';
import { NodeIdentityService } from './node-identity.service.js';
import { NodesController } from './nodes.controller.js';
import { NodeDirectory } from './node-directory.js';
import { NodesRepository } from './nodes.repository.js';
import { NodesService } from './nodes.service.js';
import { EnrollmentTokensRepository } from './enrollment-tokens.repository.js';

@Module({
  imports: [AuditModule, BrokerModule],
  controllers: [NodesController, EnrollmentTokensController, EnrollController],
  providers: [
    NodesService,
    NodesRepository,
    FleetSummaryRepository,
    NodeHeartbeatsRepository,
    EnrollmentService,
    EnrollmentTokensRepository,
    NodeIdentityService,
    EnrollmentChallengeRepository,
    NodeDirectory,
  ],
  exports: [NodesService, NodeDirectory],
})
export class NodesModule {}
