import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, type DeepPartial, In, type QueryDeepPartialEntity } from 'typeorm';
import { Artifact } from '../artifacts/artifact.entity.js';
import type { Tx } from '../database/transactions.js';
import { EdgeNode } from '../nodes/node.entity.js';
import { FINAL_ROLLOUT_STATES } from '../rollouts/rollout.entity.js';
import { Model } from './model.entity.js';
import { ModelVersion } from './model-version.entity.js';
import type { VersionHistory } from './version-delete-guard.js';

/** Models, their versions and the artifact rows versions point at. Locks last until the caller's transaction ends. */
@Injectable()
export class ModelsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  insertModel(tx: Tx, model: DeepPartial<Model>): Promise<Model> {
    const repo = tx.getRepository(Model);
    return repo.save(repo.create(model));
  }

  list(): Promise<Model[]> {
    return this.db.getRepository(Model).find({ order: { name: 'ASC' } });
  }

  findByName(name: string): Promise<Model | null> {
    return this.db.getRepository(Model).findOneBy({ name });
  }

  /** The model's row lock serialises issuing sequences. */
  lockModel(tx: Tx, id: string): Promise<Model | null> {
    return tx.getRepository(Model).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  async setLastSequence(tx: Tx, modelId: string, sequence: number): Promise<void> {
    await tx.getRepository(Model).update({ id: modelId }, { lastSequence: sequence });
  }

  /** Never lowers it: a publisher may release an older version after a newer one. */
  async raiseLastSequence(tx: Tx, modelId: string, sequence: number): Promise<void> {
    await tx.query(`UPDATE models SET last_sequence = GREATEST(last_sequence, $2) WHERE id = $1`, [modelId, sequence]);
  }

  versions(modelId: string, version?: string): Promise<ModelVersion[]> {
    return this.db.getRepository(ModelVersion).find({ where: { modelId, ...(version ? { version } : {}) }, relations: { artifact: true } });
  }

  findVersion(tx: Tx, id: string): Promise<ModelVersion | null> {
    return tx.getRepository(ModelVersion).findOneBy({ id });
  }

  findVersionWithArtifact(tx: Tx, id: string): Promise<ModelVersion> {
    return tx.getRepository(ModelVersion).findOneOrFail({ where: { id }, relations: { artifact: true } });
  }

  /** Every variant of one version of a model. */
  variants(tx: Tx, modelId: string, version: string): Promise<ModelVersion[]> {
    return tx.getRepository(ModelVersion).findBy({ modelId, version });
  }

  lockVersion(tx: Tx, modelId: string, id: string): Promise<ModelVersion | null> {
    return tx.getRepository(ModelVersion).findOne({ where: { id, modelId }, lock: { mode: 'pessimistic_write' } });
  }

  /** A version's variants (or the one named), row-locked. */
  lockVersions(tx: Tx, modelId: string, version: string, variant?: string): Promise<ModelVersion[]> {
    return tx.getRepository(ModelVersion).find({ where: { modelId, version, ...(variant ? { variant } : {}) }, lock: { mode: 'pessimistic_write' } });
  }

  /** The blob's row, unless another version of any model stored the same bytes first. */
  async insertArtifactIfMissing(tx: Tx, sha256: string, sizeBytes: number): Promise<void> {
    await tx.getRepository(Artifact).createQueryBuilder().insert().values({ sha256, sizeBytes }).orIgnore().execute();
  }

  insertVersion(tx: Tx, version: DeepPartial<ModelVersion>): Promise<ModelVersion> {
    const repo = tx.getRepository(ModelVersion);
    return repo.save(repo.create(version));
  }

  async setVersionManifest(tx: Tx, id: string, sequence: number, manifest: Record<string, unknown>): Promise<void> {
    // The manifest is a JSON document: TypeORM's deep-partial typing of a jsonb column does not see that.
    await tx.getRepository(ModelVersion).update({ id }, { sequence, manifest: manifest as QueryDeepPartialEntity<Record<string, unknown>> });
  }

  async deleteVersions(tx: Tx, ids: readonly string[]): Promise<void> {
    await tx.getRepository(ModelVersion).delete({ id: In([...ids]) });
  }

  countNodesRunning(tx: Tx, versionIds: readonly string[]): Promise<number> {
    return tx.getRepository(EdgeNode).countBy({ currentModelVersionId: In([...versionIds]) });
  }

  /** What still refers to these versions: unfinished rollouts naming one (at most 3), and history rows. */
  async history(tx: Tx, ids: readonly string[]): Promise<VersionHistory> {
    const rollouts = (await tx.query(
      `SELECT name, state FROM rollouts
        WHERE state <> ALL($2::rollout_state[])
          AND EXISTS (SELECT 1 FROM jsonb_array_elements(variants) rule WHERE rule->>'modelVersionId' = ANY($1::text[]))
        ORDER BY created_at LIMIT 3`,
      [ids, FINAL_ROLLOUT_STATES],
    )) as { name: string; state: string }[];
    if (rollouts.length > 0) return { unfinishedRollouts: rollouts, deployments: 0, rolloutNodes: 0 };
    const [counts] = (await tx.query(
      `SELECT (SELECT count(*) FROM deployments WHERE model_version_id = ANY($1::uuid[]))::int AS deployments,
              (SELECT count(*) FROM rollout_nodes WHERE model_version_id = ANY($1::uuid[]))::int AS rollout_nodes`,
      [ids],
    )) as { deployments: number; rollout_nodes: number }[];
    return { unfinishedRollouts: [], deployments: counts?.deployments ?? 0, rolloutNodes: counts?.rollout_nodes ?? 0 };
  }
}
