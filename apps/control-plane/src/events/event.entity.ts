import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One stored event of the catalogue (catalogue.ts). Append-only; the identity id orders the stream and
 * is every cursor (list pages, SSE Last-Event-ID, the webhook dispatch cursor). Subjects carry no foreign
 * keys: an event outlives the rollout or node it names.
 */
@Entity({ name: 'events' })
@Index(['type', 'id'])
@Index(['rolloutId', 'id'])
@Index(['nodeId', 'id'])
export class StoredEvent {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ type: 'varchar', length: 60 })
  type!: string;

  @Column({ type: 'uuid', nullable: true })
  rolloutId!: string | null;

  @Column({ type: 'uuid', nullable: true })
  nodeId!: string | null;

  @Column({ type: 'uuid', nullable: true })
  modelVersionId!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  payload!: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  @Index()
  createdAt!: Date;
}
