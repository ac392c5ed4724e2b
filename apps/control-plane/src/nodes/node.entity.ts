import { bigintAsNumber } from '../database/bigint.transformer.js';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { ModelVersion } from '../models/model-version.entity.js';
import { EnrollmentToken } from './enrollment-token.entity.js';
import type { Labels } from './label-selector.js';

/**
 * The verdict on a node's latest attestation report: `verified` (signed by the node's key, over a current
 * nonce, for the bytes of the release it was assigned), `mismatch` (signed, but for other bytes than it
 * was assigned or than it says it serves), `invalid` (the signature does not verify), `stale` (no report
 * judged for two nonce epochs: a node that stops attesting does not keep its last verdict).
 */
export const ATTESTATION_VERDICTS = ['verified', 'mismatch', 'invalid', 'stale'] as const;
export type AttestationVerdict = (typeof ATTESTATION_VERDICTS)[number];

export const NODE_STATUSES = ['offline', 'online', 'decommissioned'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface HardwareProfile {
  arch: string;
  cpuCores: number;
  ramMb: number;
  freeDiskMb: number;
  engines: string[];
  accelerators: string[];
}

@Entity({ name: 'nodes' })
export class EdgeNode {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /**
   * Stable identifier the node generates for itself. Never returned or logged: with the enrolment token it
   * used to be enough to take the node over; now re-enrolment also needs a signature by `publicKey`.
   */
  @Column({ type: 'varchar', length: 200, unique: true })
  nodeKey!: string;

  /**
   * Base64 SPKI DER of the Ed25519 key the node registered at enrolment; re-enrolment must be signed by it.
   * Null for a node enrolled without one (before this existed) or after an admin reset of its identity:
   * such a node re-enrols only with a token bound to it by the reset.
   */
  @Column({ type: 'varchar', length: 200, nullable: true })
  publicKey!: string | null;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** Queried by label selectors through a GIN index; TypeORM cannot declare GIN, so the migration creates it. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  @Index('nodes_labels_gin_idx', { synchronize: false })
  labels!: Labels;

  @Column({ type: 'jsonb' })
  hardware!: HardwareProfile;

  @Column({ type: 'enum', enum: NODE_STATUSES, enumName: 'node_status', default: 'offline' })
  @Index()
  status!: NodeStatus;

  /** SHA-256 of the node's secret; null once decommissioned (the credential is revoked). */
  @Column({ type: 'char', length: 64, nullable: true })
  secretHash!: string | null;

  @ManyToOne(() => EnrollmentToken, { nullable: true, onDelete: 'SET NULL' })
  @JoinColumn({ name: 'enrollment_token_id' })
  enrollmentToken!: Relation<EnrollmentToken> | null;

  @Column({ type: 'uuid', nullable: true })
  enrollmentTokenId!: string | null;

  /** The model version the node reports running; a version referenced here cannot be deleted. */
  @ManyToOne(() => ModelVersion, { nullable: true, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'current_model_version_id' })
  currentModelVersion!: Relation<ModelVersion> | null;

  @Column({ type: 'uuid', nullable: true })
  @Index()
  currentModelVersionId!: string | null;

  @Column({ type: 'varchar', length: 50, nullable: true })
  agentVersion!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  enrolledAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  lastSeenAt!: Date | null;

  /** The seq of the heartbeat that last set `currentModelVersionId`, and when: an older one stored within a minute after it (another replica) does not move it back. */
  @Column({ type: 'bigint', nullable: true, transformer: bigintAsNumber })
  lastHeartbeatSeq!: number | null;

  @Column({ type: 'timestamptz', nullable: true })
  lastHeartbeatSeqAt!: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  decommissionedAt!: Date | null;

  /** Null until the node sends a report that can be judged (it needs a registered key and a current nonce). */
  @Column({ type: 'varchar', length: 16, nullable: true })
  attestation!: AttestationVerdict | null;

  /** The digest of the model bytes the node's engine loaded, as its latest judged report says. */
  @Column({ type: 'char', length: 64, nullable: true })
  attestedSha256!: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  attestedAt!: Date | null;
}
