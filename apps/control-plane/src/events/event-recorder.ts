import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { EventType, NewEvent } from './catalogue.js';

/** A connection or transaction to write with: `query` is all the recorder needs. */
export type EventWriter = Pick<EntityManager, 'query'>;

/**
 * Stores catalogue events. Services pass their transaction, so an event commits (and is streamed) only
 * with the state change it reports; set-based writers (telemetry) pass many events in one INSERT.
 */
@Injectable()
export class EventRecorder {
  record<T extends EventType>(tx: EventWriter, event: NewEvent<T>): Promise<void> {
    return this.recordMany(tx, [event]);
  }

  async recordMany(tx: EventWriter, events: readonly NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    await tx.query(
      `INSERT INTO events (type, rollout_id, node_id, model_version_id, payload)
       SELECT * FROM unnest($1::varchar[], $2::uuid[], $3::uuid[], $4::uuid[], $5::jsonb[])`,
      [
        events.map((e) => e.type),
        events.map((e) => e.subjects.rolloutId ?? null),
        events.map((e) => e.subjects.nodeId ?? null),
        events.map((e) => e.subjects.modelVersionId ?? null),
        events.map((e) => JSON.stringify(e.payload)),
      ],
    );
  }
}
