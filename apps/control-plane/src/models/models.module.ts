import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { ArtifactChecker } from './artifact-checker.js';
import { ModelsController } from './models.controller.js';
import { ModelsRepository } from './models.repository.js';
import { ModelsService } from './models.service.js';

@Module({ imports: [AuditModule, ArtifactsModule], controllers: [ModelsController], providers: [ModelsService, ModelsRepository, ArtifactChecker], exports: [ModelsService] })
export class ModelsModule {}
