import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { DEPLOYMENT_STATES, type DeploymentState } from '#protocol';
import { EdgeNode } from '../nodes/node.entity.js';
import { bigintAsNumber } from '../database/bigint.transformer.js';

/** A deployment state a node reported, in the closed set of libs/protocol. */
@Entity({ name: 'deployment_status_events' })
@Index(['deploymentId', 'nodeId'])
export class DeploymentStatusEvent {
  @ManyToOne(() => EdgeNode, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode>;

  @PrimaryColumn({ type: 'uuid' })
  nodeId!: string;

  @PrimaryColumn({ type: 'bigint', transformer: bigintAsNumber })
  seq!: number;

  @Column({ type: 'uuid' })
  deploymentId!: string;

  @Column({ type: 'enum', enum: DEPLOYMENT_STATES, enumName: 'deployment_state' })
  state!: DeploymentState;

  @Column({ type: 'real', nullable: true })
  progress!: number | null;

  @Column({ type: 'varchar', length: 50, nullable: true })
  reason!: string | null;

  @Column({ type: 'text', nullable: true })
  detail!: string | null;

  /** Part of the key because it is the partition key (migration 1764750000000); a redelivery carries the same time. */
  @PrimaryColumn({ type: 'timestamptz' })
  sentAt!: Date;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  receivedAt!: Date;
}
