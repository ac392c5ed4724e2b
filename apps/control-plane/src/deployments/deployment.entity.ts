import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { ModelVersion } from '../models/model-version.entity.js';

/**
 * One batch of nodes told to run one model version: the unit whose artifact chunks are published once
 * for every node in it. Rollouts (waves, gates) are built from deployments.
 */
@Entity({ name: 'deployments' })
export class Deployment {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @ManyToOne(() => ModelVersion, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'model_version_id' })
  modelVersion!: Relation<ModelVersion>;

  @Column({ type: 'uuid' })
  modelVersionId!: string;

  @Column({ type: 'integer' })
  chunkSize!: number;

  @Column({ type: 'varchar', length: 200 })
  createdBy!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
