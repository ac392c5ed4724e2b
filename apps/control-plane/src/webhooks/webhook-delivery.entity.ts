import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation, Unique, UpdateDateColumn } from 'typeorm';
import { Webhook } from './webhook.entity.js';

export type DeliveryState = 'pending' | 'succeeded' | 'failed';

/** The delivery log: one row per (webhook, event), updated after every attempt. */
@Entity({ name: 'webhook_deliveries' })
@Unique(['webhookId', 'eventId'])
@Index(['webhookId', 'id'])
export class WebhookDelivery {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @ManyToOne(() => Webhook, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'webhook_id' })
  webhook!: Relation<Webhook>;

  @Column({ type: 'uuid' })
  webhookId!: string;

  @Column({ type: 'bigint' })
  eventId!: string;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  state!: DeliveryState;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ type: 'integer', nullable: true })
  lastStatusCode!: number | null;

  @Column({ type: 'varchar', length: 300, nullable: true })
  lastError!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  deliveredAt!: Date | null;
}

/** The last event fanned out to deliveries (one row, id 1), locked by the replica that fans out. */
@Entity({ name: 'webhook_dispatch_cursor' })
export class WebhookDispatchCursor {
  @Column({ type: 'integer', primary: true })
  id!: number;

  @Column({ type: 'bigint' })
  lastEventId!: string;
}
