import type { ResultsPolicy } from '#protocol';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { bigintAsNumber } from '../database/bigint.transformer.js';

@Entity({ name: 'models' })
export class Model {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 100, unique: true })
  name!: string;

  @Column({ type: 'varchar', length: 50 })
  task!: string;

  @Column({ type: 'text', default: '' })
  description!: string;

  @Column({ type: 'jsonb' })
  inputSpec!: Record<string, unknown>;

  @Column({ type: 'jsonb' })
  outputSpec!: Record<string, unknown>;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  classLabels!: string[];

  /**
   * The highest manifest sequence issued for this model (0: none yet). Sequences are drawn from it, under
   * this row's lock, when a version is signed for deployment: nodes refuse a sequence not above the one
   * they run, so every deliberate deployment must carry the newest number, and uploads burn none.
   */
  @Column({ type: 'bigint', default: 0, transformer: bigintAsNumber })
  lastSequence!: number;

  /** What of its results nodes send (libs/protocol results-policy); null: not set, which means `all`. */
  @Column({ type: 'jsonb', nullable: true })
  resultsPolicy!: ResultsPolicy | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
