import {
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
  Unique,
} from 'typeorm';
import { Artifact } from '../artifacts/artifact.entity.js';
import { Model } from './model.entity.js';
import { bigintAsNumber } from '../database/bigint.transformer.js';

export const MODEL_FORMATS = ['onnx', 'tflite', 'tfjs'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];
export const INFERENCE_ENGINES = ['onnxruntime', 'litert', 'tfjs'] as const;
export type InferenceEngine = (typeof INFERENCE_ENGINES)[number];
/** Which engine can run which artifact format. */
export const ENGINE_FOR_FORMAT: Record<ModelFormat, InferenceEngine> = { onnx: 'onnxruntime', tflite: 'litert', tfjs: 'tfjs' };

/**
 * One deployable build of a model: a semver version in one variant (fp32, int8, ...). The variants of
 * a version share the semver and differ in artifact, so a rollout can pick one per hardware class.
 */
@Entity({ name: 'model_versions' })
@Unique(['model', 'version', 'variant'])
export class ModelVersion {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @ManyToOne(() => Model, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'model_id' })
  model!: Relation<Model>;

  @Column({ type: 'uuid' })
  modelId!: string;

  @Column({ type: 'varchar', length: 64 })
  version!: string;

  @Column({ type: 'varchar', length: 32 })
  variant!: string;

  @Column({ type: 'enum', enum: MODEL_FORMATS, enumName: 'model_format' })
  format!: ModelFormat;

  @Column({ type: 'enum', enum: INFERENCE_ENGINES, enumName: 'inference_engine' })
  engine!: InferenceEngine;

  @ManyToOne(() => Artifact, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'artifact_sha256' })
  artifact!: Relation<Artifact>;

  @Column({ type: 'char', length: 64 })
  artifactSha256!: string;

  /** The encoded blob that travels instead of the artifact (chunks, repairs, downloads); null: the artifact travels as is. */
  @ManyToOne(() => Artifact, { nullable: true, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'wire_sha256' })
  wireArtifact?: Relation<Artifact> | null;

  @Column({ type: 'char', length: 64, nullable: true })
  wireSha256!: string | null;

  /** The content encoding of `wireSha256` (libs/protocol ARTIFACT_ENCODINGS), signed into the manifest's `encoding`. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  wireEncoding!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metrics!: Record<string, unknown>;

  /**
   * Release order within the model, shared by the variants of one version. Signed into the manifest:
   * a node refuses a sequence not above the one it runs (rollback protection).
   */
  @Column({ type: 'bigint', transformer: bigintAsNumber })
  sequence!: number;

  /** The manifest signed by the release keys at upload (a libs/trust Envelope<ModelManifest>). */
  @Column({ type: 'jsonb' })
  manifest!: Record<string, unknown>;

  @Column({ type: 'varchar', length: 200 })
  createdBy!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
