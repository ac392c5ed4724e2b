import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation, UpdateDateColumn } from 'typeorm';
import { ModelVersion } from '../models/model-version.entity.js';
import { EdgeNode } from '../nodes/node.entity.js';
import { Rollout } from './rollout.entity.js';

export const ROLLOUT_NODE_STATES = ['pending', 'dispatched', 'retry-wait', 'succeeded', 'failed', 'superseded', 'reverting', 'reverted', 'revert-failed'] as const;
export type RolloutNodeState = (typeof ROLLOUT_NODE_STATES)[number];

/** One node in one rollout: its wave, the variant it gets, and how far it got. */
@Entity({ name: 'rollout_nodes' })
@Index(['rolloutId', 'wave', 'state'])
export class RolloutNode {
  @ManyToOne(() => Rollout, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'rollout_id' })
  rollout!: Relation<Rollout>;

  @PrimaryColumn({ type: 'uuid' })
  rolloutId!: string;

  @ManyToOne(() => EdgeNode, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode>;

  @PrimaryColumn({ type: 'uuid' })
  @Index()
  nodeId!: string;

  @Column({ type: 'integer' })
  wave!: number;

  @ManyToOne(() => ModelVersion, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'model_version_id' })
  modelVersion!: Relation<ModelVersion>;

  @Column({ type: 'uuid' })
  modelVersionId!: string;

  /** What the node ran when it was dispatched: where a fleet rollback returns it. */
  @ManyToOne(() => ModelVersion, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'previous_model_version_id' })
  previousModelVersion!: Relation<ModelVersion> | null;

  @Column({ type: 'uuid', nullable: true })
  previousModelVersionId!: string | null;

  @Column({ type: 'enum', enum: ROLLOUT_NODE_STATES, enumName: 'rollout_node_state', default: 'pending' })
  state!: RolloutNodeState;

  /** Deliveries made so far (the first dispatch and each retry). */
  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  /** The deployment of the latest attempt (or of the revert). */
  @Column({ type: 'uuid', nullable: true })
  deploymentId!: string | null;

  /** The deployment of the latest attempt, kept when a revert moves `deploymentId` on (its shadow figures stay readable). */
  @Column({ type: 'uuid', nullable: true })
  attemptDeploymentId!: string | null;

  /** Whether the desired state of `deploymentId` has been published; a tick re-publishes it otherwise. */
  @Column({ type: 'boolean', default: false })
  published!: boolean;

  @Column({ type: 'timestamptz', nullable: true })
  dispatchedAt!: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  deadlineAt!: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  nextAttemptAt!: Date | null;

  @Column({ type: 'varchar', length: 100, nullable: true })
  reason!: string | null;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
