import type { ResultsPolicy } from '#protocol';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation, UpdateDateColumn } from 'typeorm';
import { Model } from '../models/model.entity.js';
import type { RolloutStrategy, VariantRule } from './strategy.js';

export const ROLLOUT_STATES = ['draft', 'scheduled', 'awaiting-approval', 'running', 'paused', 'halted', 'completed', 'aborted', 'superseded'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** States in which a rollout has finished (only an operator moves it on: `resume` of a halted one). */
export const FINAL_ROLLOUT_STATES: readonly RolloutState[] = ['halted', 'completed', 'aborted', 'superseded'];

/**
 * A model version (one variant per hardware rule) rolled out to the nodes a selector matches, wave by
 * wave, under a strategy. Its state moves only inside a transaction holding this row's lock (the tick
 * job and the REST actions both take it), which is what makes at-least-once jobs safe.
 */
@Entity({ name: 'rollouts' })
export class Rollout {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @ManyToOne(() => Model, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'model_id' })
  model!: Relation<Model>;

  @Column({ type: 'uuid' })
  modelId!: string;

  /** Which version each node gets: the first rule whose match accepts the node; the last rule matches all. */
  @Column({ type: 'jsonb' })
  variants!: VariantRule[];

  /** Label selector over active nodes; '' selects every node. */
  @Column({ type: 'text' })
  selector!: string;

  @Column({ type: 'jsonb' })
  strategy!: RolloutStrategy;

  @Index()
  @Column({ type: 'enum', enum: ROLLOUT_STATES, enumName: 'rollout_state', default: 'draft' })
  state!: RolloutState;

  /** Planned wave sizes (nodes per wave), fixed when the rollout starts. */
  @Column({ type: 'jsonb', default: () => "'[]'" })
  waveSizes!: number[];

  /** 0-based index of the wave being rolled out. */
  @Column({ type: 'integer', default: 0 })
  currentWave!: number;

  /** Set when the current wave has passed: the next wave starts after it. */
  @Column({ type: 'timestamptz', nullable: true })
  bakeUntil!: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  scheduledAt!: Date | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  approvedBy!: string | null;

  /** Why the rollout halted or was aborted. */
  @Column({ type: 'text', nullable: true })
  haltReason!: string | null;

  /** Counts ticks: each tick job carries the count it expects, so a redelivered job is recognised. */
  @Column({ type: 'integer', default: 0 })
  tickSeq!: number;

  /** Overrides the model's results policy for this rollout's deployments; null: the model's. */
  @Column({ type: 'jsonb', nullable: true })
  resultsPolicy!: ResultsPolicy | null;

  @Column({ type: 'varchar', length: 200 })
  createdBy!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
