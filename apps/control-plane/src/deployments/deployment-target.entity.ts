import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation, UpdateDateColumn } from 'typeorm';
import { DEPLOYMENT_STATES, type DeploymentState, type ShadowAbandonCause, type ShadowDecision } from '#protocol';
import { EdgeNode } from '../nodes/node.entity.js';
import { Deployment } from './deployment.entity.js';
import { bigintAsNumber } from '../database/bigint.transformer.js';

/** A node in a deployment and the last state it reported (null until it reports). */
@Entity({ name: 'deployment_targets' })
export class DeploymentTarget {
  @ManyToOne(() => Deployment, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'deployment_id' })
  deployment!: Relation<Deployment>;

  @PrimaryColumn({ type: 'uuid' })
  deploymentId!: string;

  @ManyToOne(() => EdgeNode, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode>;

  @PrimaryColumn({ type: 'uuid' })
  @Index()
  nodeId!: string;

  @Column({ type: 'enum', enum: DEPLOYMENT_STATES, enumName: 'deployment_state', nullable: true })
  state!: DeploymentState | null;

  /** The seq of the status message that set `state`: an older, redelivered status never overwrites it. */
  @Column({ type: 'bigint', nullable: true, transformer: bigintAsNumber })
  stateSeq!: number | null;

  @Column({ type: 'varchar', length: 50, nullable: true })
  reason!: string | null;

  /** The detail text of the node's latest status (why it failed, what it waits for). */
  @Column({ type: 'text', nullable: true })
  detail!: string | null;

  /** Download progress (0..1) of the node's latest status, when it gave one. */
  @Column({ type: 'real', nullable: true })
  progress!: number | null;

  /**
   * The shadow evaluation's decision for this node (`activate` or `abandon`), signed into its desired
   * state; null while it shadows (or without a shadow order).
   */
  @Column({ type: 'varchar', length: 16, nullable: true })
  shadowDecision!: ShadowDecision | null;

  /** With `abandon`: why (gate, stopped, timeout), signed beside it; null otherwise. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  shadowAbandonCause!: ShadowAbandonCause | null;

  /** When the desired state retained for this node expires: a job re-signs it before then. */
  @Column({ type: 'timestamptz', nullable: true })
  desiredExpiresAt!: Date | null;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
