import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { HEARTBEAT_WATERMARK, ROLL_UP_HEARTBEATS } from './rollup-sql.js';

export interface RollUpOptions {
  /** Stop at a minute boundary, so each minute's rollup row is written once (the job); false rolls up all it safely can (tests). */
  readonly alignToMinute: boolean;
  /** Leave the last `marginMs` out whatever pg_stat_activity says (see BOUND). */
  readonly marginMs: number;
  /** At most this much receipt time per run: catching up after an outage goes in bounded steps. */
  readonly maxStepMinutes: number;
}

/** Times as ISO 8601 text in UTC with microseconds: exact whatever the session's DateStyle. */
export interface RollUpRun {
  readonly from: string;
  readonly until: string;
  readonly heartbeats: number;
  readonly groups: number;
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', ${ISO})`;

/**
 * How far a run may go ($3: the watermark): up to now less the margin, at most `maxStepMinutes` past the
 * watermark, and never past the start of a transaction still open that could store a heartbeat. A
 * heartbeat's `received_at` is its inserting transaction's start (`now()`), so every heartbeat received
 * before the bound is committed: none can appear behind the watermark later. Waited for: every session of
 * this database with the control plane's application name (this session's own, so a DATABASE_URL that sets
 * another still matches), whatever its age and whether it has written yet (a COPY gets its transaction id
 * only at its first write), and any session that has written (a transaction id). Not waited for: other
 * applications' read-only transactions (a report, a dump). Sessions this role cannot see (another role's,
 * without pg_read_all_stats) show no start: docs/model-health.md says to run every replica as one role.
 * `least` ignores the NULL of "none open".
 */
const BOUND = `
  SELECT ${iso('bound')} AS bound, bound > $3::timestamptz AS advances
    FROM (SELECT CASE WHEN $1::boolean THEN date_trunc('minute', b) ELSE b END AS bound
            FROM (SELECT least(now() - make_interval(secs => $2::float8 / 1000),
                               $3::timestamptz + make_interval(mins => $4::int),
                               (SELECT min(xact_start) FROM pg_stat_activity
                                 WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                                   AND (application_name = current_setting('application_name') OR backend_xid IS NOT NULL))) AS b) x) y`;

/** The heartbeat rollup job's reads and writes (rollup-sql.ts: ROLL_UP_HEARTBEATS). */
@Injectable()
export class HeartbeatRollupsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Adds the heartbeats received since the watermark, up to the bound, to the rollups and moves the
   * watermark, in one transaction that holds the watermark row. A run that finds the row held (another
   * replica's run) returns null at once rather than wait: the holder is doing the work. Null too when
   * there was nothing to do. READ COMMITTED: the statement that rolls up must see what committed after
   * the bound was read.
   */
  async rollUp(options: RollUpOptions): Promise<RollUpRun | null> {
    return this.db.transaction('READ COMMITTED', async (tx) => {
      // A run stuck behind a lock must not hold the maintenance worker (and the watermark's row) for long.
      await tx.query(`SET LOCAL statement_timeout = '60s'`);
      const [mark] = (await tx.query(`SELECT ${iso('until')} AS until FROM rollup_watermarks WHERE name = $1 FOR UPDATE SKIP LOCKED`, [
        HEARTBEAT_WATERMARK,
      ])) as { until: string }[];
      if (!mark) return this.missingOrHeld(tx);
      const params = [options.alignToMinute, options.marginMs, mark.until, options.maxStepMinutes];
      const [{ bound, advances } = { bound: '', advances: false }] = (await tx.query(BOUND, params)) as { bound: string; advances: boolean }[];
      if (!advances) return null;
      const [done] = (await tx.query(ROLL_UP_HEARTBEATS, [mark.until, bound])) as { heartbeats: number; groups: number }[];
      return { from: mark.until, until: bound, heartbeats: done?.heartbeats ?? 0, groups: done?.groups ?? 0 };
    });
  }

  /** How far behind now the watermark is, in seconds (the tail readers read from raw rows). */
  async lagSeconds(): Promise<number | null> {
    const [row] = (await this.db.query(`SELECT extract(epoch FROM now() - until)::float8 AS lag FROM rollup_watermarks WHERE name = $1`, [
      HEARTBEAT_WATERMARK,
    ])) as { lag: number }[];
    return row?.lag ?? null;
  }

  /**
   * BRIN summaries for the heap pages written since the last call, in every heartbeat partition: VACUUM
   * leaves the last, partly filled range of each unsummarized, and the tail readers would recheck all of
   * it. Its own short transaction; it waits at most 1 s for a partition's lock. Rejects on any failure
   * (a partition dropped meanwhile, a role that does not own the index): the caller goes on without it.
   */
  async summarizeNewRanges(): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL lock_timeout = '1s'`);
      await tx.query(`SELECT brin_summarize_new_values(i.inhrelid::regclass) FROM pg_inherits i WHERE i.inhparent = 'node_heartbeats_received_at_brin_idx'::regclass`);
    });
  }

  /** Sessions of this database whose transactions this role cannot see (another role's): the bound cannot wait for them. */
  async hiddenSessions(): Promise<number> {
    const [row] = (await this.db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state IS NULL AND backend_type = 'client backend'`,
    )) as { n: number }[];
    return row?.n ?? 0;
  }

  private async missingOrHeld(tx: EntityManager): Promise<null> {
    const [row] = (await tx.query(`SELECT 1 FROM rollup_watermarks WHERE name = $1`, [HEARTBEAT_WATERMARK])) as unknown[];
    if (!row) throw new Error(`rollup_watermarks has no '${HEARTBEAT_WATERMARK}' row: run the migrations`);
    return null;
  }
}
