import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { ModelVersion } from '../models/model-version.entity.js';
import { EdgeNode } from '../nodes/node.entity.js';
import { bigintAsNumber } from '../database/bigint.transformer.js';

/** An inference a node ran, keyed by its node-scoped sequence so a replayed batch is stored once. */
@Entity({ name: 'inference_results' })
export class InferenceResult {
  @ManyToOne(() => EdgeNode, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode>;

  @PrimaryColumn({ type: 'uuid' })
  nodeId!: string;

  @PrimaryColumn({ type: 'bigint', transformer: bigintAsNumber })
  seq!: number;

  /** Part of the key because it is the partition key (migration 1764750000000); a replayed batch carries the same times. */
  @PrimaryColumn({ type: 'timestamptz' })
  at!: Date;

  @Column({ type: 'char', length: 64 })
  modelSha256!: string;

  /**
   * The version the node served the result with, resolved at ingest from the name, version and variant
   * it reported (identical bytes can be several versions, so `modelSha256` alone cannot say which).
   * Null for agents that do not report them, for a version unknown here, and once the version is deleted:
   * results never stop a version from being deleted.
   */
  @ManyToOne(() => ModelVersion, { nullable: true, onDelete: 'SET NULL' })
  @JoinColumn({ name: 'model_version_id' })
  modelVersion!: Relation<ModelVersion> | null;

  @Column({ type: 'uuid', nullable: true })
  @Index()
  modelVersionId!: string | null;

  /** Feedback joins on it (partial index, declared in the migration). */
  @Column({ type: 'varchar', length: 200, nullable: true })
  @Index('inference_results_input_ref_idx', { synchronize: false })
  inputRef!: string | null;

  @Column({ type: 'integer' })
  topClass!: number;

  @Column({ type: 'real' })
  confidence!: number;

  @Column({ type: 'real' })
  latencyMs!: number;

  @Column({ type: 'jsonb', nullable: true })
  output!: number[] | null;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  receivedAt!: Date;
}
