import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ArtifactStore } from './artifact-store.js';
import { createArtifactStore } from './artifact-store.factory.js';
import { ArtifactsController } from './artifacts.controller.js';

@Module({
  controllers: [ArtifactsController],
  providers: [
    {
      provide: ArtifactStore,
      inject: [APP_CONFIG],
      // Checked once at boot: a missing bucket or wrong credentials stop the start with the store's error.
      useFactory: async (config: AppConfig) => {
        const store = createArtifactStore(config.artifacts);
        await store.verifyReachable();
        return store;
      },
    },
  ],
  exports: [ArtifactStore],
})
export class ArtifactsModule {}
