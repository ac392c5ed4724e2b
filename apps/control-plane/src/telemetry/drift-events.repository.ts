import type { DataSource } from 'typeorm';
import type { HeartbeatMessage } from '#protocol';
import type { EventType } from '../events/catalogue.js';
import type { FromNode } from './telemetry.repository.js';

export const DEFAULT_DRIFT_EVENT_THRESHOLD = 0.25;

/**
 * `model.drift-detected` when a node's drift score (the larger of its input and confidence PSI) crosses
 * above the threshold: a heartbeat above it whose node's previous heartbeat (by seq) was not above it,
 * or had no score. A node that stays drifted emits once, not at every heartbeat; one that recovers and
 * drifts again emits again. One set-based statement over the batch's stored heartbeats, after their
 * insert (the previous heartbeat may be in the same batch: it is a row by then). The stored rows are found
 * by their whole key, time included: it is the partition key, so only their partition is searched.
 */
export class DriftEvents {
  constructor(
    private readonly db: DataSource,
    private readonly threshold: number,
  ) {}

  async record(stored: readonly FromNode<HeartbeatMessage>[]): Promise<void> {
    const above = stored.filter(({ message: m }) => m.drift && Math.max(m.drift.input, m.drift.confidence) > this.threshold);
    if (above.length === 0) return;
    await this.db.query(
      `WITH u AS (SELECT * FROM unnest($1::uuid[], $2::bigint[], $5::timestamptz[]) AS u(node_id, seq, sent_at)),
            h AS (SELECT h.* FROM node_heartbeats h JOIN u ON u.node_id = h.node_id AND u.seq = h.seq AND u.sent_at = h.sent_at),
            crossed AS (
              SELECT h.node_id, h.seq, h.drift_input, h.drift_confidence, h.drift_samples,
                     (SELECT mv.id FROM model_versions mv JOIN models m ON m.id = mv.model_id
                       WHERE mv.artifact_sha256 = h.model_sha256 AND m.name = h.model_name AND mv.version = h.model_version AND mv.variant = h.model_variant) AS mv
                FROM h
               WHERE NOT EXISTS (
                       SELECT 1 FROM (SELECT p.drift_input, p.drift_confidence FROM node_heartbeats p
                                       WHERE p.node_id = h.node_id AND p.seq < h.seq ORDER BY p.seq DESC LIMIT 1) prev
                        WHERE GREATEST(prev.drift_input, prev.drift_confidence) > $3))
       INSERT INTO events (type, node_id, model_version_id, payload)
       SELECT $4, node_id, mv, jsonb_build_object('input', drift_input, 'confidence', drift_confidence, 'samples', drift_samples, 'threshold', $3::float8)
         FROM crossed ORDER BY node_id, seq`,
      [above.map((a) => a.nodeId), above.map((a) => a.message.seq), this.threshold, 'model.drift-detected' satisfies EventType, above.map((a) => a.message.ts)],
    );
  }
}
