import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { queryWithoutJit } from '../database/query-without-jit.js';
import { ROLLUP_TIERS, rollupSource } from '../telemetry/rollup-sql.js';

export interface FeedbackItem {
  readonly nodeId?: string;
  readonly inputRef: string;
  readonly label: number;
}

/**
 * Joins ground truth to stored results by input reference (`inference_results_input_ref_idx`), limited
 * to the node when the item names one, and stores one `inference_feedback` row per matched result
 * (a result labelled again takes the newer label; within a batch the later item wins). Results without a
 * resolved version cannot count towards any version's accuracy and are not matched.
 */
@Injectable()
export class FeedbackRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Returns the positions (0-based) of the items that matched no stored result. */
  async record(items: readonly FeedbackItem[]): Promise<number[]> {
    const rows = (await this.db.query(
      `WITH f AS (
              SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::int[]) WITH ORDINALITY AS f(node_id, input_ref, label, ord)),
            m AS (
              SELECT DISTINCT ON (r.node_id, r.seq) r.node_id, r.seq, r.model_version_id, r.input_ref, f.label, r.top_class = f.label AS correct, r.at, f.ord
                FROM f JOIN inference_results r ON r.input_ref = f.input_ref AND (f.node_id IS NULL OR r.node_id = f.node_id)
               WHERE r.model_version_id IS NOT NULL
               ORDER BY r.node_id, r.seq, f.ord DESC),
            stored AS (
              INSERT INTO inference_feedback AS x (node_id, seq, model_version_id, input_ref, label, correct, result_at)
              SELECT node_id, seq, model_version_id, input_ref, label, correct, at FROM m ORDER BY node_id, seq
              ON CONFLICT (node_id, seq) DO UPDATE SET label = EXCLUDED.label, correct = EXCLUDED.correct, received_at = now())
       SELECT (f.ord - 1)::int AS position FROM f
        WHERE NOT EXISTS (SELECT 1 FROM inference_results r
                           WHERE r.input_ref = f.input_ref AND (f.node_id IS NULL OR r.node_id = f.node_id) AND r.model_version_id IS NOT NULL)
        ORDER BY f.ord`,
      [items.map((i) => i.nodeId ?? null), items.map((i) => i.inputRef), items.map((i) => i.label)],
    )) as { position: number }[];
    return rows.map((r) => r.position);
  }

  /**
   * Active nodes that served a version of `model`@`version` (any variant) since `since`, busiest first:
   * those that may keep its results. Read from the hourly rollups (one row per node and hour) and the heartbeats not rolled up yet.
   */
  async servingNodes(model: string, version: string, since: Date, limit: number): Promise<string[]> {
    const rows = await queryWithoutJit<{ nodeId: string }[]>(
      this.db,
      `SELECT r.node_id AS "nodeId" FROM ${rollupSource(ROLLUP_TIERS[1], `date_trunc('hour', $3::timestamptz)`)} r
         JOIN model_versions mv ON mv.id = r.model_version_id JOIN models m ON m.id = mv.model_id
         JOIN nodes n ON n.id = r.node_id
        WHERE m.name = $1 AND mv.version = $2 AND r.hour >= date_trunc('hour', $3::timestamptz) AND n.status <> 'decommissioned'
        GROUP BY r.node_id HAVING sum(r.inferences) > 0 ORDER BY sum(r.inferences) DESC, r.node_id LIMIT $4`,
      [model, version, since, limit],
    );
    return rows.map((r) => r.nodeId);
  }

  /**
   * Holds labels until their results arrive (joined at ingest), up to `cap` held in all: past it nothing
   * more is held (the caller reports those items as not pending). A label for a node that does not
   * exist or is decommissioned is not held (no one will answer it). Expired labels are dropped first, a
   * bounded number per call. Returns how many were held.
   */
  async holdPending(items: readonly FeedbackItem[], expiresAt: Date, cap: number): Promise<number> {
    await this.db.query(`DELETE FROM pending_feedback WHERE id IN (SELECT id FROM pending_feedback WHERE expires_at <= now() ORDER BY expires_at LIMIT 10000)`);
    const rows = (await this.db.query(
      `INSERT INTO pending_feedback (node_id, input_ref, label, expires_at)
       SELECT u.node_id, u.input_ref, u.label, $4 FROM unnest($1::uuid[], $2::varchar[], $3::int[]) AS u(node_id, input_ref, label)
        WHERE (SELECT count(*) FROM pending_feedback) + $6 <= $5
          AND (u.node_id IS NULL OR EXISTS (SELECT 1 FROM nodes n WHERE n.id = u.node_id AND n.status <> 'decommissioned'))
       RETURNING 1`,
      [items.map((i) => i.nodeId ?? null), items.map((i) => i.inputRef), items.map((i) => i.label), expiresAt, cap, items.length],
    )) as unknown[];
    return rows.length;
  }
}
