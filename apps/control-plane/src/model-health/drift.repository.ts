import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

export interface NodeDriftRow {
  readonly nodeId: string;
  readonly nodeName: string;
  readonly variant: string;
  readonly input: number;
  readonly confidence: number;
  readonly samples: number;
  readonly at: Date;
}

/** Most nodes one answer lists (highest scores first). */
export const MAX_DRIFT_NODES = 1000;

/**
 * Drift scores as heartbeats reported them: each node's latest score for the version in the window, by
 * `node_heartbeats_drift_idx` (name, version, time; only rows with a score). A heartbeat counts for a
 * version when its name, version, variant and digest are the version's, as everywhere else.
 */
@Injectable()
export class DriftRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async latestPerNode(versionIds: readonly string[], windowSeconds: number): Promise<NodeDriftRow[]> {
    return (await this.db.query(
      `WITH v AS (SELECT m.name, mv.version, mv.variant, mv.artifact_sha256 AS sha FROM model_versions mv JOIN models m ON m.id = mv.model_id WHERE mv.id = ANY($1::uuid[])),
            latest AS (
              SELECT DISTINCT ON (h.node_id) h.node_id, h.model_variant AS variant, h.drift_input AS input, h.drift_confidence AS confidence,
                     h.drift_samples AS samples, h.received_at AS at
                FROM node_heartbeats h JOIN v ON v.name = h.model_name AND v.version = h.model_version AND v.variant = h.model_variant AND v.sha = h.model_sha256
               WHERE h.drift_input IS NOT NULL AND h.received_at > now() - make_interval(secs => $2)
               ORDER BY h.node_id, h.seq DESC)
       SELECT l.node_id AS "nodeId", n.name AS "nodeName", l.variant, l.input::float8 AS input, l.confidence::float8 AS confidence, l.samples, l.at
         FROM latest l JOIN nodes n ON n.id = l.node_id
        ORDER BY GREATEST(l.input, l.confidence) DESC, l.node_id LIMIT $3`,
      [versionIds, windowSeconds, MAX_DRIFT_NODES],
    )) as NodeDriftRow[];
  }
}
