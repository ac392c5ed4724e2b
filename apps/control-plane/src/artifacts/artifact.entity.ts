import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A blob in the content-addressed store, keyed by its SHA-256: identical uploads share one row and one file. */
@Entity({ name: 'artifacts' })
export class Artifact {
  @PrimaryColumn({ type: 'char', length: 64 })
  sha256!: string;

  /** int8 comes back from pg as a string; the transformer keeps the API's number type. */
  @Column({ type: 'bigint', transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  sizeBytes!: number;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
