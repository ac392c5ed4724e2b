import { Module } from '@nestjs/common';
import { ShadowReportsRepository } from './shadow-reports.repository.js';
import { ShadowService } from './shadow.service.js';

/** Shadow evaluation on the control plane: the reports nodes send, and the SQL the rollout gate reads. */
@Module({ providers: [ShadowReportsRepository, ShadowService], exports: [ShadowReportsRepository, ShadowService] })
export class ShadowModule {}
