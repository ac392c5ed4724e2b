import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ArtifactStore } from './artifact-store.js';
import { ArtifactsController } from './artifacts.controller.js';

@Module({
  controllers: [ArtifactsController],
  providers: [{ provide: ArtifactStore, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new ArtifactStore(config.artifacts.dir) }],
  exports: [ArtifactStore],
})
export class ArtifactsModule {}
