import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { bigintAsNumber } from '../database/bigint.transformer.js';
import { ModelVersion } from '../models/model-version.entity.js';
import { EdgeNode } from '../nodes/node.entity.js';

/**
 * Ground truth for one stored result (keyed like the result: node and seq), joined at `POST /v1/feedback`
 * by input reference. Accuracy reads these rows only, never the results table.
 */
@Entity({ name: 'inference_feedback' })
@Index('inference_feedback_model_version_id_result_at_idx', ['modelVersionId', 'resultAt'])
export class InferenceFeedback {
  @ManyToOne(() => EdgeNode, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id' })
  node!: Relation<EdgeNode>;

  @PrimaryColumn({ type: 'uuid' })
  nodeId!: string;

  @PrimaryColumn({ type: 'bigint', transformer: bigintAsNumber })
  seq!: number;

  @ManyToOne(() => ModelVersion, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'model_version_id' })
  modelVersion!: Relation<ModelVersion>;

  @Column({ type: 'uuid' })
  modelVersionId!: string;

  @Column({ type: 'varchar', length: 200 })
  inputRef!: string;

  @Column({ type: 'integer' })
  label!: number;

  @Column({ type: 'boolean' })
  correct!: boolean;

  @Column({ type: 'timestamptz' })
  resultAt!: Date;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  receivedAt!: Date;
}
