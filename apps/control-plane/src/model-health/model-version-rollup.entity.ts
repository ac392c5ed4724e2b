import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { bigintAsNumber } from '../database/bigint.transformer.js';
import { ModelVersion } from '../models/model-version.entity.js';
import { EdgeNode } from '../nodes/node.entity.js';

/**
 * One model version on one node in one period (of receipt at the control plane): maintained at ingest by
 * set-based upserts, read by the stats route, so no query scans raw result rows. Heartbeats feed
 * `inferences`, `errors`, `latencyHist` and the `reportedConfidence*` columns; results feed `results`, `confidenceSum` and `confidenceHist`.
 * Kept per minute and per hour (telemetry/rollup-sql.ts).
 */
abstract class RollupColumns {
  @ManyToOne(() => ModelVersion, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'model_version_id' })
  modelVersion!: Relation<ModelVersion>;

  @PrimaryColumn({ type: 'uuid' })
  modelVersionId!: string;

  @ManyToOne(() => EdgeNode, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode>;

  @PrimaryColumn({ type: 'uuid' })
  nodeId!: string;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  inferences!: number;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  errors!: number;

  /** Packed (telemetry/packed-histogram.ts), in the shared latency layout (libs/protocol latency-histogram.ts). */
  @Column({ type: 'numeric' })
  latencyHist!: string;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  results!: number;

  @Column({ type: 'double precision' })
  confidenceSum!: number;

  /** Top-class confidence in CONFIDENCE_BUCKET_COUNT buckets of equal width, packed. */
  @Column({ type: 'numeric' })
  confidenceHist!: string;

  /**
   * Confidence as the node's heartbeats reported it (every successful inference, whatever the results
   * policy sent): kept apart from the results' so the stats route can take one or the other per node.
   */
  @Column({ type: 'bigint', default: 0, transformer: bigintAsNumber })
  reportedConfidences!: number;

  @Column({ type: 'double precision', default: 0 })
  reportedConfidenceSum!: number;

  @Column({ type: 'numeric', default: 0 })
  reportedConfidenceHist!: string;
}

@Entity({ name: 'model_version_rollups' })
export class ModelVersionRollup extends RollupColumns {
  /** BRIN, for the retention job (migration 1764610000000); TypeORM cannot declare its method. */
  @Index('model_version_rollups_minute_brin_idx', { synchronize: false })
  @PrimaryColumn({ type: 'timestamptz' })
  minute!: Date;
}

@Entity({ name: 'model_version_hourly_rollups' })
export class ModelVersionHourlyRollup extends RollupColumns {
  @Index('model_version_hourly_rollups_hour_brin_idx', { synchronize: false })
  @PrimaryColumn({ type: 'timestamptz' })
  hour!: Date;
}
