import { Global, Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { EventFeed } from './event-feed.js';
import { EventRecorder } from './event-recorder.js';
import { EventStreams } from './event-streams.js';
import { EventsController } from './events.controller.js';
import { EventsRepository } from './events.repository.js';
import { KeyRotationEvents } from './key-rotation-events.js';
import { StreamKeyCheck } from './stream-key-check.js';

/** Global: every domain that reports events injects EventRecorder without importing this module. */
@Global()
@Module({
  imports: [AuthModule],
  controllers: [EventsController],
  providers: [EventRecorder, EventsRepository, EventFeed, EventStreams, KeyRotationEvents, StreamKeyCheck],
  exports: [EventRecorder, EventFeed],
})
export class EventsModule {}
