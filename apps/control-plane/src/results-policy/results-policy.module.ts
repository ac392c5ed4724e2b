import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { DeploymentsModule } from '../deployments/deployments.module.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { QueuesModule } from '../queues/queues.module.js';
import { ModelResultsPolicyController, NodeResultsRequestsController, RolloutResultsPolicyController } from './results-policy.controller.js';
import { ResultsPolicyRepository } from './results-policy.repository.js';
import { ResultsPolicyService } from './results-policy.service.js';

/** What leaves the node: results policies per model and requests for the results nodes kept. */
@Module({ imports: [AuditModule, DeploymentsModule, MessagingModule, QueuesModule], controllers: [ModelResultsPolicyController, NodeResultsRequestsController, RolloutResultsPolicyController], providers: [ResultsPolicyService, ResultsPolicyRepository], exports: [ResultsPolicyService] })
export class ResultsPolicyModule {}
