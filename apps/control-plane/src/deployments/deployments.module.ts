import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { BrokerModule } from '../broker/broker.module.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { DeploymentsController, NodeDeploymentsController } from './deployments.controller.js';
import { DeploymentsService } from './deployments.service.js';
import { DesiredStateRefresher } from './desired-state-refresher.js';
import { DistributionService } from './distribution.service.js';
import { BroadcastQueue } from './broadcast-queue.js';
import { DeploymentTargetsRepository } from './deployment-targets.repository.js';
import { DeploymentsRepository } from './deployments.repository.js';
import { ModelsModule } from '../models/models.module.js';
import { QueuesModule } from '../queues/queues.module.js';
import { RepairLedger } from './repair-ledger.js';
import { RepairService } from './repair.service.js';

@Module({
  imports: [AuditModule, ArtifactsModule, MessagingModule, BrokerModule, ModelsModule, QueuesModule],
  controllers: [DeploymentsController, NodeDeploymentsController],
  providers: [DeploymentsService, DeploymentsRepository, DistributionService, DesiredStateRefresher, DeploymentTargetsRepository, BroadcastQueue, RepairLedger, RepairService],
  exports: [DistributionService, DeploymentsService, BroadcastQueue, RepairService],
})
export class DeploymentsModule {}
