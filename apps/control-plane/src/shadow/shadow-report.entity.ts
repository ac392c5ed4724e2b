import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { bigintAsNumber } from '../database/bigint.transformer.js';
import { Deployment } from '../deployments/deployment.entity.js';
import { EdgeNode } from '../nodes/node.entity.js';

/** A node's latest shadow report for a deployment (the highest `seq` wins): figures of its current run. */
@Entity({ name: 'shadow_reports' })
export class ShadowReport {
  @ManyToOne(() => Deployment, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'deployment_id' })
  deployment!: Relation<Deployment>;

  @PrimaryColumn({ type: 'uuid' })
  deploymentId!: string;

  @ManyToOne(() => EdgeNode, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode>;

  @PrimaryColumn({ type: 'uuid' })
  nodeId!: string;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  seq!: number;

  @Column({ type: 'varchar', length: 64 })
  sha256!: string;

  @Column({ type: 'timestamptz' })
  startedAt!: Date;

  @Column({ type: 'integer' })
  samples!: number;

  @Column({ type: 'integer' })
  agreed!: number;

  @Column({ type: 'integer' })
  errors!: number;

  @Column({ type: 'integer' })
  skipped!: number;

  @Column({ type: 'real' })
  meanDivergence!: number;

  @Column({ type: 'real' })
  meanAbsDiff!: number;

  @Column({ type: 'real' })
  activeLatencyMs!: number;

  @Column({ type: 'real' })
  candidateLatencyMs!: number;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  receivedAt!: Date;
}
