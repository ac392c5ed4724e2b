import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

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

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
