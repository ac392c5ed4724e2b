import { Injectable } from '@nestjs/common';
import type { EventType, NewEvent } from './catalogue.js';
import { type EventWriter, EventsRepository } from './events.repository.js';

/**
 * Stores catalogue events. Services pass their transaction, so an event commits (and is streamed) only
 * with the state change it reports; set-based writers (telemetry) pass many events in one INSERT.
 */
@Injectable()
export class EventRecorder {
  constructor(private readonly repository: EventsRepository) {}

  record<T extends EventType>(tx: EventWriter, event: NewEvent<T>): Promise<void> {
    return this.recordMany(tx, [event]);
  }

  recordMany(tx: EventWriter, events: readonly NewEvent[]): Promise<void> {
    return this.repository.insertMany(tx, events);
  }
}
