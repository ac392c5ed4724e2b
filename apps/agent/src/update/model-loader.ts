import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { compilePreprocessing, type InferenceEngine, inputSizeOf, preprocessedSession, type InferenceSession, type ModelSpec, parsePreprocessing, type ServingModel, type SessionHolder } from '#inference';
import { canonicalJson, type Envelope, type ModelManifest } from '#trust';
import type { TrustSource } from '../state/trusted-root.js';
import type { SlotName, SlotStore } from '../state/slots.js';
import { StepFailure } from './step-failure.js';

export class ActiveSlotError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ActiveSlotError';
  }
}

/** Loads models from the slots: the active one re-verified before it serves, any slot with its preprocessing. */
export class ModelLoader {
  constructor(
    private readonly trust: TrustSource,
    private readonly slots: SlotStore,
    private readonly holder: SessionHolder,
    private readonly engines: ReadonlyMap<string, InferenceEngine>,
  ) {}

  /**
   * Serves the active slot after re-verifying it: release signatures (under the root it was installed
   * with or a newer one, never with a revoked key), and bytes that hash to the manifest.
   */
  async loadActive(): Promise<void> {
    const active = await this.slots.active();
    if (!active) return;
    const content = await this.slots.content(active.slot);
    if (!content) throw new ActiveSlotError(`active slot ${active.slot} has no content record`);
    this.trust.verifyInstalled(content.manifest);
    const manifest = content.manifest.signed;
    if (this.holder.model?.sha256 === manifest.sha256 && this.holder.model.version === manifest.version) return;
    let session: InferenceSession;
    try {
      session = await this.loadSession(active.slot, manifest);
    } catch (error) {
      if (error instanceof StepFailure && error.reason === 'hash-mismatch') throw new ActiveSlotError(`active slot ${active.slot} does not match its signed manifest`, { cause: error });
      throw error;
    }
    await this.holder.swap(session, servingModelOf(manifest));
  }

  /**
   * Takes the signatures of a manifest just verified (a copy the control plane re-signed after a
   * rotation or revocation) into the active slot's record when it is the same manifest for the same
   * bytes and the recorded signatures no longer verify: the model then stays trusted across restarts.
   * Serves it if it was not served for that reason. True when the record changed.
   */
  async adoptSignatures(manifest: Envelope<ModelManifest>): Promise<boolean> {
    const active = await this.slots.active();
    const content = active && (await this.slots.content(active.slot).catch(() => undefined));
    if (!active || !content || content.sha256 !== manifest.signed.sha256 || canonicalJson(content.manifest.signed) !== canonicalJson(manifest.signed)) return false;
    try {
      this.trust.verifyInstalled(content.manifest);
      return false; // still trusted: keep the record as it is
    } catch {
      await this.slots.relabel(active.slot, { ...content, manifest });
      await this.loadActive();
      return true;
    }
  }

  /** True when the slot's model file hashes to `sha256`. */
  async slotHolds(slot: SlotName, sha256: string): Promise<boolean> {
    const hash = createHash('sha256');
    try {
      await pipeline(createReadStream(this.slots.modelPath(slot)), hash);
    } catch {
      return false; // no file: it holds nothing
    }
    return hash.digest('hex') === sha256;
  }

  /**
   * Loads a slot's model with the manifest's preprocessing in front of it. The file is read once: the
   * bytes are hashed and must be the manifest's, and the engine gets those very bytes, so nothing can
   * change the file between the check and the load, and the session's `loadedSha256` (which the node
   * attests) is the digest of what the engine really loaded.
   */
  async loadSession(slot: SlotName, manifest: ModelManifest): Promise<InferenceSession> {
    return loadVerifiedSession(this.engines, this.slots.modelPath(slot), manifest, `slot ${slot}`);
  }
}

/**
 * ModelLoader.loadSession for a model file anywhere (the shadow worker loads the staged slot's file on its
 * own thread with it): read once, hashed against the signed digest, loaded with the manifest's engine and
 * preprocessing. `where` names the file in errors.
 */
export async function loadVerifiedSession(engines: ReadonlyMap<string, InferenceEngine>, path: string, manifest: ModelManifest, where: string): Promise<InferenceSession> {
  const spec = specOf(manifest);
  let preprocess: (input: Float32Array, into?: Float32Array) => Float32Array;
  try {
    preprocess = compilePreprocessing(parsePreprocessing(manifest.preprocessing), spec.inputShape);
  } catch (error) {
    throw new StepFailure('unsupported-engine', `unsupported preprocessing: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const engine = engines.get(manifest.engine);
  if (!engine) throw new StepFailure('unsupported-engine', `no engine '${manifest.engine}' on this agent`);
  const bytes = await readFile(path).catch((error: unknown) => {
    throw new StepFailure('hash-mismatch', `${where} holds no readable model`, { cause: error });
  });
  const loadedSha256 = createHash('sha256').update(bytes).digest('hex');
  if (loadedSha256 !== manifest.sha256) throw new StepFailure('hash-mismatch', `${where} holds ${loadedSha256}, not the signed ${manifest.sha256}`);
  let session: InferenceSession;
  try {
    session = await engine.load(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), spec);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new StepFailure('model-load-failed', `${manifest.engine} could not load the ${manifest.format} model: ${message}`.slice(0, 1000), { cause: error });
  }
  return { ...preprocessedSession(session, preprocess, inputSizeOf(spec.inputShape)), loadedSha256 };
}

/** How many values the model takes: the product of its input shape (dynamic axes count as 1). */
export function inputSize(manifest: ModelManifest): number {
  return (manifest.inputSpec.shape ?? []).reduce((a, b) => a * Math.max(1, b), 1);
}

export function specOf(manifest: ModelManifest): ModelSpec {
  const { shape, name } = manifest.inputSpec;
  return { engine: manifest.engine, format: manifest.format, inputShape: shape ?? [1, inputSize(manifest)], inputName: name, outputName: manifest.outputSpec.name };
}

export const servingModelOf = (m: ModelManifest): ServingModel => ({ sha256: m.sha256, name: m.name, version: m.version, variant: m.variant });
