import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { HEARTBEAT_WATERMARK, ROLL_UP_HEARTBEATS } from './rollup-sql.js';

export interface RollUpOptions {
  /** Stop at a minute boundary, so each minute's rollup row is written once (the job); false rolls up all it safely can (tests). */
  readonly alignToMinute: boolean;
  /** Leave the last `marginMs` out whatever pg_stat_activity says (see `rollUp`). */
  readonly marginMs: number;
}

/** Times as PostgreSQL's text: a JS Date would drop the microseconds and move the watermark. */
export interface RollUpRun {
  readonly from: string;
  readonly until: string;
  readonly heartbeats: number;
  readonly groups: number;
}

/**
 * How far the job may go: up to now less the margin, and never past the start of a transaction still in
 * flight. A heartbeat's `received_at` is its inserting transaction's start (`now()`), so every heartbeat
 * received before the bound is committed: none can appear behind the watermark later. Transactions of
 * this database only; one older than a minute that has written nothing yet (a long report, a dump) is no
 * ingest statement (those are single COPY or INSERT statements) and does not hold the job back.
 * `least` ignores the NULL of "none in flight".
 */
const BOUND = `
  SELECT bound::text AS bound, bound > $3::timestamptz AS advances
    FROM (SELECT CASE WHEN $1::boolean THEN date_trunc('minute', b) ELSE b END AS bound
    FROM (SELECT least(now() - make_interval(secs => $2::float8 / 1000),
                       (SELECT min(xact_start) FROM pg_stat_activity
                         WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
                           AND (backend_xid IS NOT NULL OR xact_start > now() - interval '1 minute'))) AS b) x) y`;

/** The heartbeat rollup job's reads and writes (rollup-sql.ts: ROLL_UP_HEARTBEATS). */
@Injectable()
export class HeartbeatRollupsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Adds the heartbeats received since the watermark, up to the bound, to the rollups and moves the
   * watermark, in one transaction that holds the watermark row: two replicas' jobs run one after the
   * other, and the second finds nothing left or only what arrived since. Null when there was nothing to do.
   */
  async rollUp(options: RollUpOptions): Promise<RollUpRun | null> {
    return this.db.transaction(async (tx) => {
      const [mark] = (await tx.query(`SELECT until::text AS until FROM rollup_watermarks WHERE name = $1 FOR UPDATE`, [HEARTBEAT_WATERMARK])) as { until: string }[];
      if (!mark) throw new Error(`rollup_watermarks has no '${HEARTBEAT_WATERMARK}' row: run the migrations`);
      const [{ bound, advances } = { bound: '', advances: false }] = (await tx.query(BOUND, [options.alignToMinute, options.marginMs, mark.until])) as {
        bound: string;
        advances: boolean;
      }[];
      if (!advances) return null;
      const [done] = (await tx.query(ROLL_UP_HEARTBEATS, [mark.until, bound])) as { heartbeats: number; groups: number }[];
      return { from: mark.until, until: bound, heartbeats: done?.heartbeats ?? 0, groups: done?.groups ?? 0 };
    });
  }

  /** Where the watermark stands. */
  async watermark(): Promise<string> {
    const [mark] = (await this.db.query(`SELECT until::text AS until FROM rollup_watermarks WHERE name = $1`, [HEARTBEAT_WATERMARK])) as { until: string }[];
    if (!mark) throw new Error(`rollup_watermarks has no '${HEARTBEAT_WATERMARK}' row: run the migrations`);
    return mark.until;
  }
}
