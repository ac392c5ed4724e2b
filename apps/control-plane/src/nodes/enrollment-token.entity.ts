import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { EdgeNode } from './node.entity.js';
import type { Labels } from './label-selector.js';

@Entity({ name: 'enrollment_tokens' })
export class EnrollmentToken {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** SHA-256 of the token; the token is shown once at creation. */
  @Column({ type: 'char', length: 64, unique: true })
  tokenHash!: string;

  /** Labels every node enrolled with this token starts with. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  labels!: Labels;

  @Column({ type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ type: 'integer' })
  maxUses!: number;

  @Column({ type: 'integer', default: 0 })
  uses!: number;

  @Column({ type: 'varchar', length: 200 })
  createdBy!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  /**
   * Set on the token an identity reset issues: it re-enrols only this (existing) node and registers its
   * new key; it never creates a node. Null for ordinary tokens, which never re-enrol an existing node.
   */
  @ManyToOne(() => EdgeNode, { nullable: true, onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode> | null;

  @Column({ type: 'uuid', nullable: true })
  nodeId!: string | null;
}
