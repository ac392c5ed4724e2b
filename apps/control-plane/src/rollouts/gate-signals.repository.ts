import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Rollout } from './rollout.entity.js';
import type { AccuracySide, CanaryDrift } from './signal-gates.js';

/**
 * The inputs of the accuracy and drift gates (signal-gates.ts), read under the tick's transaction.
 * Canary and control are split as `RolloutRepository.gateStats` splits them: by the model version a
 * row names, among the rollout's targets that were not superseded.
 */
@Injectable()
export class GateSignalsRepository {
  /**
   * Labelled results per side whose inference time (`result_at`) falls in the window: feedback rows carry
   * the version their result was served with, so the split needs no digest fallback.
   */
  async accuracy(tx: EntityManager, rollout: Rollout, windowSeconds: number): Promise<[AccuracySide, AccuracySide]> {
    const rows = (await tx.query(
      `SELECT (f.model_version_id = ANY($2::uuid[])) AS canary, count(*)::int AS labelled, count(*) FILTER (WHERE f.correct)::int AS correct
         FROM inference_feedback f
         JOIN rollout_nodes rn ON rn.node_id = f.node_id AND rn.rollout_id = $1 AND rn.state <> 'superseded'
        WHERE f.result_at > now() - make_interval(secs => $3)
        GROUP BY 1`,
      [rollout.id, rollout.variants.map((v) => v.modelVersionId), windowSeconds],
    )) as { canary: boolean; labelled: number; correct: number }[];
    const side = (canary: boolean): AccuracySide => rows.find((r) => r.canary === canary) ?? { labelled: 0, correct: 0 };
    return [side(true), side(false)];
  }

  /** Each canary node's latest drift score in the window (a heartbeat naming one of the rollout's versions), averaged. */
  async canaryDrift(tx: EntityManager, rollout: Rollout, windowSeconds: number): Promise<CanaryDrift> {
    const [row] = (await tx.query(
      `WITH new_versions AS (
              SELECT mv.artifact_sha256 AS sha, m.name, mv.version, mv.variant
                FROM model_versions mv JOIN models m ON m.id = mv.model_id WHERE mv.id = ANY($2::uuid[])),
            latest AS (
              SELECT DISTINCT ON (h.node_id) h.node_id, GREATEST(h.drift_input, h.drift_confidence) AS score
                FROM node_heartbeats h
                JOIN rollout_nodes rn ON rn.node_id = h.node_id AND rn.rollout_id = $1 AND rn.state <> 'superseded'
               WHERE h.received_at > now() - make_interval(secs => $3) AND h.drift_input IS NOT NULL
                 AND EXISTS (SELECT 1 FROM new_versions nv WHERE nv.sha = h.model_sha256 AND nv.name = h.model_name AND nv.version = h.model_version AND nv.variant = h.model_variant)
               ORDER BY h.node_id, h.seq DESC)
       SELECT count(*)::int AS nodes, avg(score)::float8 AS "meanScore" FROM latest`,
      [rollout.id, rollout.variants.map((v) => v.modelVersionId), windowSeconds],
    )) as CanaryDrift[];
    return row ?? { nodes: 0, meanScore: null };
  }
}
