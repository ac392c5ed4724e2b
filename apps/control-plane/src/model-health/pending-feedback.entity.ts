import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { EdgeNode } from '../nodes/node.entity.js';

/**
 * A label whose result the control plane does not hold yet: kept on a node under its results policy and
 * requested from it. Ingest turns it into `inference_feedback` when the result is stored
 * (telemetry/pending-feedback-join.ts); it expires after `expiresAt`.
 */
@Entity({ name: 'pending_feedback' })
export class PendingFeedback {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @ManyToOne(() => EdgeNode, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode> | null;

  /** Only a result of this node; null: of any node that answers. */
  @Column({ type: 'uuid', nullable: true })
  nodeId!: string | null;

  @Index('pending_feedback_input_ref_idx')
  @Column({ type: 'varchar', length: 200 })
  inputRef!: string;

  @Column({ type: 'integer' })
  label!: number;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Index('pending_feedback_expires_at_idx')
  @Column({ type: 'timestamptz' })
  expiresAt!: Date;
}
