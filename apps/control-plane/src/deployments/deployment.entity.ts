import type { RecurringWindow } from '#common';
import type { ShadowOrder } from '#protocol';
import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { ModelVersion } from '../models/model-version.entity.js';
import { Rollout } from '../rollouts/rollout.entity.js';

/**
 * One batch of nodes told to run one model version: the unit whose artifact chunks are published once
 * for every node in it. Rollouts (waves, gates) are built from deployments.
 */
@Entity({ name: 'deployments' })
export class Deployment {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @ManyToOne(() => ModelVersion, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'model_version_id' })
  modelVersion!: Relation<ModelVersion>;

  @Column({ type: 'uuid' })
  modelVersionId!: string;

  /** The rollout this deployment is a wave batch, retry or revert of; null for a direct deployment. */
  @ManyToOne(() => Rollout, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'rollout_id' })
  rollout!: Relation<Rollout> | null;

  @Column({ type: 'uuid', nullable: true })
  rolloutId!: string | null;

  /** The maintenance window its desired states carry (rollout deliveries; never reverts or direct ones). */
  @Column({ type: 'jsonb', nullable: true })
  activationWindow!: RecurringWindow | null;

  /** The shadow order its desired states carry (a rollout with `strategy.shadow`); null: activate after the self-test. */
  @Column({ type: 'jsonb', nullable: true })
  shadow!: ShadowOrder | null;

  @Column({ type: 'integer' })
  chunkSize!: number;

  @Column({ type: 'varchar', length: 200 })
  createdBy!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
