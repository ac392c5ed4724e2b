import { Module } from '@nestjs/common';
import { RetentionQueue } from './retention-queue.js';
import { RetentionRepository } from './retention.repository.js';
import { RetentionService } from './retention.service.js';

/** Deletes old events and model-health rollups (docs/configuration.md#retention). */
@Module({ providers: [RetentionRepository, RetentionService, RetentionQueue], exports: [RetentionService] })
export class RetentionModule {}
