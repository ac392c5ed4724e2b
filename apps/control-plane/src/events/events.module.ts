import { Global, Module } from '@nestjs/common';
import { EventFeed } from './event-feed.js';
import { EventRecorder } from './event-recorder.js';
import { EventStreams } from './event-streams.js';
import { EventsController } from './events.controller.js';
import { EventsRepository } from './events.repository.js';
import { KeyRotationEvents } from './key-rotation-events.js';

/** Global: every domain that reports events injects EventRecorder without importing this module. */
@Global()
@Module({
  controllers: [EventsController],
  providers: [EventRecorder, EventsRepository, EventFeed, EventStreams, KeyRotationEvents],
  exports: [EventRecorder, EventFeed],
})
export class EventsModule {}
