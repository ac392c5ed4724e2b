import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { EdgeNode } from '../nodes/node.entity.js';
import { bigintAsNumber } from '../database/bigint.transformer.js';

/** One heartbeat per (node, seq, sent_at): the primary key makes QoS 1 redelivery harmless. Partitioned by sent_at (docs/scaling.md). */
@Entity({ name: 'node_heartbeats' })
@Index('node_heartbeats_drift_idx', ['modelName', 'modelVersion', 'receivedAt'], { where: '"drift_input" IS NOT NULL' })
export class NodeHeartbeat {
  @ManyToOne(() => EdgeNode, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode>;

  @PrimaryColumn({ type: 'uuid' })
  nodeId!: string;

  @PrimaryColumn({ type: 'bigint', transformer: bigintAsNumber })
  seq!: number;

  /** Part of the key because it is the partition key (migration 1764750000000); a redelivery carries the same time. */
  @PrimaryColumn({ type: 'timestamptz' })
  sentAt!: Date;

  /** The transaction's start: the rollup job's watermark rests on it (telemetry/heartbeat-rollups.ts). BRIN, which TypeORM cannot declare. */
  @Index('node_heartbeats_received_at_brin_idx', { synchronize: false })
  @Column({ type: 'timestamptz', default: () => 'now()' })
  receivedAt!: Date;

  @Column({ type: 'char', length: 64, nullable: true })
  modelSha256!: string | null;

  /** The model name, version and variant as the node reported them (matched to a version when read). */
  @Column({ type: 'varchar', length: 200, nullable: true })
  modelName!: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  modelVersion!: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  modelVariant!: string | null;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  uptimeS!: number;

  @Column({ type: 'real' })
  cpu!: number;

  @Column({ type: 'integer' })
  memMb!: number;

  @Column({ type: 'integer' })
  freeDiskMb!: number;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  inferences!: number;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  errors!: number;

  @Column({ type: 'real', nullable: true })
  latencyP50Ms!: number | null;

  @Column({ type: 'real', nullable: true })
  latencyP99Ms!: number | null;

  /** The latency histogram, packed (packed-histogram.ts) in the shared layout (libs/protocol); null from agents that report only p50/p99. */
  @Column({ type: 'numeric', nullable: true })
  latencyHist!: string | null;

  /** How many confidences the heartbeat's confidence histogram holds; null from agents that do not report one. */
  @Column({ type: 'bigint', nullable: true, transformer: bigintAsNumber })
  confidences!: number | null;

  /** Their sum (each clamped to [0, 1]): the mean is exact, not read from bucket bounds. */
  @Column({ type: 'double precision', nullable: true })
  confidenceSum!: number | null;

  /** The confidence histogram, packed as `latencyHist` (CONFIDENCE_BUCKET_COUNT buckets); null when the heartbeat carried none. */
  @Column({ type: 'numeric', nullable: true })
  confidenceHist!: string | null;

  /** Drift scores (PSI vs the manifest's reference statistics) of the node's recent inputs and top-class confidences; null when the heartbeat carried none. */
  @Column({ type: 'real', nullable: true })
  driftInput!: number | null;

  @Column({ type: 'real', nullable: true })
  driftConfidence!: number | null;

  /** Inferences the scores cover. */
  @Column({ type: 'integer', nullable: true })
  driftSamples!: number | null;
}
