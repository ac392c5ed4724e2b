import { Inject, Injectable } from '@nestjs/common';
import { type Envelope, type ModelManifest, parseManifestEnvelope, TrustError } from '#trust';
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '#common';
import type { ArtifactEncodingName, ReferenceStats } from '#protocol';
import { type EncodedBlob, encodeArtifact } from '../artifacts/artifact-encoder.js';
import { ArtifactStore, type IngestedBlob } from '../artifacts/artifact-store.js';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { isUniqueViolation } from '../database/pg-errors.js';
import { Transactions, type Tx } from '../database/transactions.js';
import { SigningService } from '../keys/signing.service.js';
import type { Model } from './model.entity.js';
import { ENGINE_FOR_FORMAT, type InferenceEngine, type ModelFormat, type ModelVersion } from './model-version.entity.js';
import { ModelsRepository } from './models.repository.js';
import { compareReleaseVersions } from './dto/release-version.js';
import { versionDeleteBlocker } from './version-delete-guard.js';
import { assertDeliverable } from './desired-state-fit.js';
import { assertSameRelease } from './release-check.js';
import { toResultsPolicy } from '../results-policy/results-policy.js';

export interface NewModel {
  readonly name: string;
  readonly task: string;
  readonly description?: string;
  readonly inputSpec: Record<string, unknown>;
  readonly outputSpec: Record<string, unknown>;
  readonly classLabels?: string[];
  readonly resultsPolicy?: unknown;
}

export interface NewModelVersion {
  readonly version: string;
  readonly variant: string;
  readonly format: ModelFormat;
  readonly engine: InferenceEngine;
  readonly metrics?: Record<string, unknown>;
  readonly preprocessing?: Record<string, unknown>;
  readonly selfTest?: { input: number[]; expectedOutput: number[]; tolerance: number };
  /** Training-time statistics for drift, validated (reference-stats.ts); signed into the manifest. */
  readonly referenceStats?: ReferenceStats;
  /** Store and ship the artifact in this content encoding (docs/protocol.md#artifact-encoding); absent: as is. */
  readonly encoding?: ArtifactEncodingName;
}

/** The sequence of a version not yet signed for deployment: `issue` gives it a real one first. */
const UNISSUED = 0;

@Injectable()
export class ModelsService {
  constructor(
    private readonly transactions: Transactions,
    private readonly repository: ModelsRepository,
    private readonly store: ArtifactStore,
    private readonly audit: AuditService,
    private readonly signing: SigningService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(by: Principal, input: NewModel): Promise<Model> {
    try {
      return await this.transactions.run(async (tx) => {
        const model = await this.repository.insertModel(tx, {
          ...input,
          description: input.description ?? '',
          classLabels: input.classLabels ?? [],
          resultsPolicy: input.resultsPolicy === undefined ? null : toResultsPolicy(input.resultsPolicy),
        });
        await this.audit.record(tx, by, 'model.create', { type: 'model', id: model.id }, { name: model.name });
        return model;
      });
    } catch (error) {
      if (isUniqueViolation(error, 'models_name_key')) throw new ConflictError(`model '${input.name}' already exists`, { cause: error });
      throw error;
    }
  }

  list(): Promise<Model[]> {
    return this.repository.list();
  }

  async get(name: string): Promise<Model> {
    const model = await this.repository.findByName(name);
    if (!model) throw new NotFoundError('model', name);
    return model;
  }

  /** Newest semver first; variants of one version by name. */
  async listVersions(name: string, version?: string): Promise<ModelVersion[]> {
    const model = await this.get(name);
    const rows = await this.repository.versions(model.id, version);
    return rows.sort((a, b) => compareReleaseVersions(b.version, a.version) || a.variant.localeCompare(b.variant));
  }

  /**
   * Registers an uploaded artifact as a version variant. The blob is made addressable before the rows
   * are written: a crash in between leaves an unreferenced file (harmless), never a row without a file.
   */
  async addVersion(by: Principal, modelName: string, input: NewModelVersion, blob: IngestedBlob): Promise<ModelVersion> {
    if (ENGINE_FOR_FORMAT[input.format] !== input.engine) {
      await this.store.discard(blob);
      throw new ValidationError(`format '${input.format}' runs on engine '${ENGINE_FOR_FORMAT[input.format]}', not '${input.engine}'`, [
        { field: 'engine', message: `must be ${ENGINE_FOR_FORMAT[input.format]} for format ${input.format}` },
      ]);
    }
    const model = await this.get(modelName).catch(async (error: unknown) => {
      await this.store.discard(blob);
      throw error;
    });
    // No sequence yet (0): one is issued when the version is signed for deployment (`issue`).
    const sequence = UNISSUED;
    const encoded = input.encoding ? await encodeArtifact(this.store, blob, input.encoding).catch(async (error: unknown) => {
      await this.store.discard(blob);
      throw error;
    }) : undefined;
    const staged = encoded ? [blob, encoded.blob] : [blob];
    const manifest = this.buildManifest(model, input, blob, sequence, encoded);
    try {
      const sizing = { manifest: (m: ModelManifest) => this.signing.manifestForSizing(m), desiredState: this.signing.desiredState.bind(this.signing) };
      assertDeliverable(manifest, sizing, {
        maxMessageBytes: this.config.mqtt.maxMessageBytes,
        fleetNamespace: this.config.mqtt.fleetNamespace,
        chunkSizeBytes: this.config.distribution.chunkSizeBytes,
      });
    } catch (error) {
      for (const b of staged) await this.store.discard(b);
      throw error;
    }
    for (const b of staged) await this.store.commit(b);
    try {
      return await this.transactions.run(async (tx) => {
        for (const b of staged) await this.repository.insertArtifactIfMissing(tx, b.sha256, b.sizeBytes);
        const saved = await this.repository.insertVersion(tx, {
          version: input.version,
          variant: input.variant,
          format: input.format,
          engine: input.engine,
          modelId: model.id,
          artifactSha256: blob.sha256,
          wireSha256: encoded?.blob.sha256 ?? null,
          wireEncoding: encoded?.name ?? null,
          metrics: input.metrics ?? {},
          sequence,
          // Publisher-signed: stored unsigned (not deployable) until its publishers' signatures come.
          manifest: this.signing.holdsReleaseKeys ? { ...this.signing.manifest(manifest) } : { signed: manifest, signatures: [] },
          createdBy: by.actor,
        });
        await this.audit.record(tx, by, 'model-version.create', { type: 'model-version', id: saved.id }, {
          model: model.name,
          version: input.version,
          variant: input.variant,
          sha256: blob.sha256,
          sizeBytes: blob.sizeBytes,
          ...(encoded ? { encoding: encoded.name, wireSha256: encoded.blob.sha256, wireSizeBytes: encoded.blob.sizeBytes } : {}),
        });
        return this.repository.findVersionWithArtifact(tx, saved.id);
      });
    } catch (error) {
      if (isUniqueViolation(error, 'model_versions_model_id_version_variant_key')) {
        throw new ConflictError(`${model.name} ${input.version} (${input.variant}) already exists`, { cause: error });
      }
      throw error;
    }
  }

  /**
   * Makes a version deployable to any node, in the caller's transaction: unless its variants already
   * carry the model's highest issued sequence, they are re-signed under the next one. Nodes refuse a
   * manifest whose sequence is not above the one they run (rollback protection against replayed
   * documents), so every deliberate deployment — a new version, an older one again, a fleet rollback —
   * is a new signed decision with the newest number, as TUF/Uptane treat it. A version deployed
   * again while it is still the newest decision keeps its sequence. Returns the sequence it carries.
   */
  async issue(tx: Tx, modelVersionId: string): Promise<number> {
    const target = await this.repository.findVersion(tx, modelVersionId);
    if (!target) throw new NotFoundError('model version', modelVersionId);
    // The model's row lock serialises issuing: two deployments never draw the same number.
    const model = await this.repository.lockModel(tx, target.modelId);
    if (!model) throw new NotFoundError('model', target.modelId);
    if (!this.signing.holdsReleaseKeys) return this.releasedSequence(model, target);
    const variants = await this.repository.variants(tx, target.modelId, target.version);
    if (model.lastSequence > 0 && variants.every((v) => v.sequence === model.lastSequence)) return model.lastSequence;
    const sequence = model.lastSequence + 1;
    await this.repository.setLastSequence(tx, model.id, sequence);
    const now = new Date();
    for (const variant of variants) {
      const previous = parseManifestEnvelope(variant.manifest).signed;
      const manifest: ModelManifest = {
        ...previous,
        sequence,
        created: now.toISOString(),
        expires: new Date(now.getTime() + this.config.trust.manifestTtlDays * 86_400_000).toISOString(),
      };
      await this.repository.setVersionManifest(tx, variant.id, sequence, { ...this.signing.manifest(manifest) });
    }
    return sequence;
  }

  /**
   * Publisher-signed releases: stores the manifest a version's publishers signed outside the control
   * plane (`keys sign-release`). It must be the uploaded manifest with the publisher's sequence and
   * lifetime, and meet the current root's release threshold; the model's last sequence follows it.
   */
  async release(by: Principal, modelName: string, versionId: string, envelope: Envelope<ModelManifest>): Promise<ModelVersion> {
    const model = await this.get(modelName);
    return this.transactions.run(async (tx) => {
      const version = await this.repository.lockVersion(tx, model.id, versionId);
      if (!version) throw new NotFoundError('model version', versionId);
      assertSameRelease((version.manifest as { signed: ModelManifest }).signed, envelope.signed);
      try {
        this.signing.verifyRelease(envelope);
      } catch (error) {
        if (!(error instanceof TrustError)) throw error;
        throw new UnprocessableError(`the release signatures do not verify under root version ${this.signing.root.signed.version}: ${error.message}`, { cause: error });
      }
      const sequence = envelope.signed.sequence;
      await this.repository.raiseLastSequence(tx, model.id, sequence);
      await this.repository.setVersionManifest(tx, version.id, sequence, { signed: { ...envelope.signed }, signatures: [...envelope.signatures] });
      await this.audit.record(tx, by, 'model-version.release', { type: 'model-version', id: version.id }, { model: model.name, version: version.version, variant: version.variant, sequence, signers: envelope.signatures.map((s) => s.keyId) });
      return this.repository.findVersionWithArtifact(tx, version.id);
    });
  }

  /** Publisher-signed: a version deploys under the sequence its publishers signed, once they have. */
  private releasedSequence(model: Model, version: ModelVersion): number {
    const signatures = (version.manifest as { signatures?: unknown[] }).signatures ?? [];
    if (signatures.length === 0) {
      throw new ConflictError(`${model.name} ${version.version} (${version.variant}) is not released: its publishers sign the manifest (\`keys sign-release\`) and POST it to /v1/models/${model.name}/versions/${version.id}/release`);
    }
    return version.sequence;
  }

  private buildManifest(model: Model, input: NewModelVersion, blob: IngestedBlob, sequence: number, encoded: EncodedBlob | undefined): ModelManifest {
    const now = new Date();
    return {
      type: 'model-manifest',
      name: model.name,
      version: input.version,
      sequence,
      variant: input.variant,
      format: input.format,
      engine: input.engine,
      sha256: blob.sha256,
      size: blob.sizeBytes,
      ...(encoded ? { encoding: { name: encoded.name, sha256: encoded.blob.sha256, size: encoded.blob.sizeBytes } } : {}),
      inputSpec: model.inputSpec,
      outputSpec: model.outputSpec,
      preprocessing: input.preprocessing ?? {},
      labels: model.classLabels,
      selfTest: input.selfTest ?? { input: [], expectedOutput: [], tolerance: 0 },
      ...(input.referenceStats ? { referenceStats: input.referenceStats } : {}),
      created: now.toISOString(),
      expires: new Date(now.getTime() + this.config.trust.manifestTtlDays * 86_400_000).toISOString(),
    };
  }

  /** Deletes a version (or one of its variants) unless a node still runs it. Artifacts stay in the store. */
  async deleteVersion(by: Principal, modelName: string, version: string, variant?: string): Promise<void> {
    const model = await this.get(modelName);
    await this.transactions.run(async (tx) => {
      const versions = await this.repository.lockVersions(tx, model.id, version, variant);
      if (versions.length === 0) throw new NotFoundError('model version', `${modelName}@${version}${variant ? `/${variant}` : ''}`);
      const ids = versions.map((v) => v.id);
      const running = await this.repository.countNodesRunning(tx, ids);
      if (running > 0) throw new ConflictError(`${modelName} ${version} is still running on ${running} node(s)`);
      const blocker = versionDeleteBlocker(await this.repository.history(tx, ids));
      if (blocker) throw new ConflictError(`${modelName} ${version} cannot be deleted: ${blocker}`);
      await this.repository.deleteVersions(tx, ids);
      await this.audit.record(tx, by, 'model-version.delete', { type: 'model', id: model.id }, {
        version,
        variants: versions.map((v) => v.variant),
      });
    });
  }
}
