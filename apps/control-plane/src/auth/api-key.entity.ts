import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const API_ROLES = ['viewer', 'operator', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

@Entity({ name: 'api_keys' })
export class ApiKey {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'enum', enum: API_ROLES, enumName: 'api_role' })
  role!: ApiRole;

  /** SHA-256 of the key; the key itself is shown once at creation and never stored. */
  @Column({ type: 'char', length: 64, unique: true })
  keyHash!: string;

  /** The first characters of the key, so operators can tell keys apart in listings. */
  @Column({ type: 'varchar', length: 16 })
  keyPrefix!: string;

  @Column({ type: 'varchar', length: 200 })
  createdBy!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
