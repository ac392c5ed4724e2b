import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
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

  @Column({ type: 'timestamptz' })
  at!: Date;

  @Column({ type: 'char', length: 64 })
  modelSha256!: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
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
