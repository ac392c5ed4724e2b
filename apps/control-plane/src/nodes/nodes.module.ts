import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { EnrollController, EnrollmentTokensController } from './enrollment.controller.js';
import { EnrollmentService } from './enrollment.service.js';
import { NodesController } from './nodes.controller.js';
import { NodesService } from './nodes.service.js';

@Module({
  imports: [AuditModule],
  controllers: [NodesController, EnrollmentTokensController, EnrollController],
  providers: [NodesService, EnrollmentService],
  exports: [NodesService],
})
export class NodesModule {}
