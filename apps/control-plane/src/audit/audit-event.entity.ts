import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One row per mutation: who did what to which target, and when. Append-only. */
@Entity({ name: 'audit_events' })
@Index(['targetType', 'targetId'])
export class AuditEvent {
  /** bigint identity: pg returns int8 as a string, which keeps it exact. */
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  @Index()
  at!: Date;

  @Column({ type: 'varchar', length: 200 })
  actor!: string;

  @Column({ type: 'varchar', length: 100 })
  action!: string;

  @Column({ type: 'varchar', length: 50 })
  targetType!: string;

  @Column({ type: 'varchar', length: 200 })
  targetId!: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details!: Record<string, unknown>;
}
