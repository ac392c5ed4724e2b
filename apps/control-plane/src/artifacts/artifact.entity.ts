import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../database/bigint.transformer.js';

/** A blob in the content-addressed store, keyed by its SHA-256: identical uploads share one row and one file. */
@Entity({ name: 'artifacts' })
export class Artifact {
  @PrimaryColumn({ type: 'char', length: 64 })
  sha256!: string;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  sizeBytes!: number;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
