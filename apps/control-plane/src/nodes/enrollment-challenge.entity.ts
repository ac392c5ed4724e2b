import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { EdgeNode } from './node.entity.js';

/**
 * A nonce handed to an enrolled node that wants to re-enrol: it signs it with its registered key. Stored
 * hashed (a database reader cannot answer one), bound to one node, short-lived, deleted when used.
 */
@Entity({ name: 'enrollment_challenges' })
export class EnrollmentChallenge {
  /** SHA-256 of the nonce. */
  @PrimaryColumn({ type: 'char', length: 64 })
  nonceHash!: string;

  @ManyToOne(() => EdgeNode, { nullable: false, onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode>;

  @Column({ type: 'uuid' })
  @Index()
  nodeId!: string;

  @Column({ type: 'timestamptz' })
  expiresAt!: Date;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
