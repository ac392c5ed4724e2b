import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Tx } from '../database/transactions.js';
import type { EventType, EventView, NewEvent } from './catalogue.js';
import type { Snapshot } from './delivery-plan.js';

export interface EventFilter {
  readonly types?: readonly string[];
  readonly rolloutId?: string;
  readonly nodeId?: string;
  readonly since?: Date;
  readonly until?: Date;
}

interface EventRow {
  id: string;
  type: string;
  created_at: string;
  rollout_id: string | null;
  node_id: string | null;
  model_version_id: string | null;
  payload: Record<string, unknown>;
}

const SELECT = `SELECT id::text AS id, type, created_at, rollout_id, node_id, model_version_id, payload FROM events`;

const toView = (r: EventRow): EventView => ({
  id: r.id,
  type: r.type,
  createdAt: new Date(r.created_at).toISOString(),
  rolloutId: r.rollout_id,
  nodeId: r.node_id,
  modelVersionId: r.model_version_id,
  payload: r.payload,
});

/** A connection or transaction to write with: `query` is all the writes need. */
export type EventWriter = Pick<Tx, 'query'>;

/**
 * The event stream's statements. Writes run in the caller's transaction (an event commits only with the
 * change it reports); every read is keyset on id, so pages and replays cost the same anywhere.
 */
@Injectable()
export class EventsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Many events in one statement, so set-based writers pay one round trip per batch. */
  async insertMany(tx: EventWriter, events: readonly NewEvent[]): Promise<void> {
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

  /** Serializes writers of one event type until `tx` ends (a transaction-scoped advisory lock). */
  async lockType(tx: Tx, type: EventType): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1::text))`, [type]);
  }

  /** `key.rotated` for this root version, unless one was written already (call under `lockType`). */
  async insertKeyRotatedOnce(tx: Tx, rootVersion: number, revokedKeyIds: readonly string[]): Promise<void> {
    const type = 'key.rotated' satisfies EventType;
    await tx.query(
      `INSERT INTO events (type, payload)
       SELECT $1::varchar, jsonb_build_object('rootVersion', $2::int, 'revokedKeyIds', $3::jsonb)
        WHERE NOT EXISTS (SELECT 1 FROM events WHERE type = $1::varchar AND (payload->>'rootVersion')::int = $2::int)`,
      [type, rootVersion, JSON.stringify(revokedKeyIds)],
    );
  }

  /** Events after `after` (ascending), at most `limit`, within `upTo` when given (a replay's end). */
  async page(filter: EventFilter, after: string, limit: number, upTo?: string): Promise<EventView[]> {
    const where = ['id > $1'];
    const params: unknown[] = [after];
    const add = (sql: (n: number) => string, value: unknown) => {
      params.push(value);
      where.push(sql(params.length));
    };
    if (upTo !== undefined) add((n) => `id <= $${n}`, upTo);
    if (filter.types && filter.types.length > 0) add((n) => `type = ANY($${n}::varchar[])`, filter.types);
    if (filter.rolloutId) add((n) => `rollout_id = $${n}`, filter.rolloutId);
    if (filter.nodeId) add((n) => `node_id = $${n}`, filter.nodeId);
    if (filter.since) add((n) => `created_at >= $${n}`, filter.since);
    if (filter.until) add((n) => `created_at < $${n}`, filter.until);
    params.push(limit);
    const rows = (await this.db.query(`${SELECT} WHERE ${where.join(' AND ')} ORDER BY events.id LIMIT $${params.length}`, params)) as EventRow[];
    return rows.map(toView);
  }

  /** Events after `after` with the snapshot they were read in (one statement, so the two agree). */
  async readWithSnapshot(after: bigint, limit: number): Promise<{ events: EventView[]; snapshot: Snapshot }> {
    const [row] = (await this.db.query(
      `WITH s AS (SELECT pg_current_snapshot() AS snap)
       SELECT pg_snapshot_xmin(s.snap)::text AS xmin, pg_snapshot_xmax(s.snap)::text AS xmax,
              (SELECT coalesce(json_agg(e ORDER BY e.id::bigint), '[]'::json)
                 FROM (${SELECT} WHERE id > $1 ORDER BY events.id LIMIT $2) e) AS rows
         FROM s`,
      [after.toString(), limit],
    )) as { xmin: string; xmax: string; rows: EventRow[] }[];
    if (!row) throw new Error('snapshot query returned no row');
    return { events: row.rows.map(toView), snapshot: { xmin: BigInt(row.xmin), xmax: BigInt(row.xmax) } };
  }

  async lastId(): Promise<bigint> {
    const [row] = (await this.db.query(`SELECT coalesce(max(id), 0)::text AS id FROM events`)) as { id: string }[];
    return BigInt(row?.id ?? '0');
  }
}
