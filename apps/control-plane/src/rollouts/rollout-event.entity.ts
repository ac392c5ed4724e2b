import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { Rollout } from './rollout.entity.js';

/** A rollout's history: one row per transition (started, wave advanced, node failed, halted, …). */
@Entity({ name: 'rollout_events' })
@Index(['rolloutId', 'id'])
export class RolloutEvent {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @ManyToOne(() => Rollout, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'rollout_id' })
  rollout!: Relation<Rollout>;

  @Column({ type: 'uuid' })
  rolloutId!: string;

  @Column({ type: 'varchar', length: 50 })
  kind!: string;

  /** Who caused it: an API principal, or `engine` for the tick job. */
  @Column({ type: 'varchar', length: 200 })
  actor!: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  detail!: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  at!: Date;
}
