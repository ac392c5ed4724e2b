import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A webhook: where matching events are POSTed, signed with its secret. */
@Entity({ name: 'webhooks' })
export class Webhook {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 2000 })
  url!: string;

  /** Catalogue types to deliver; empty = every type. */
  @Column({ type: 'varchar', length: 60, array: true, default: () => "'{}'" })
  eventTypes!: string[];

  /** In clear: the HMAC needs it. Returned once, at creation (docs/security.md). */
  @Column({ type: 'varchar', length: 100 })
  secret!: string;

  @Column({ type: 'varchar', length: 200 })
  createdBy!: string;

  /** Deliveries that failed after all their attempts, in a row; reset by a success. */
  @Column({ type: 'integer', default: 0 })
  consecutiveFailures!: number;

  @Column({ type: 'timestamptz', nullable: true })
  disabledAt!: Date | null;

  @Column({ type: 'varchar', length: 300, nullable: true })
  disabledReason!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
