import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { fsyncPath } from '#common';
import { type Envelope, type ModelManifest, parseManifestEnvelope } from '#trust';
import { join } from 'node:path';
import { fsyncDirectory, readJsonFile, writeJsonAtomic } from './atomic-file.js';

export type SlotName = 'a' | 'b';

/** What a slot holds: the model file and the signed manifest it was verified against. */
export interface SlotContent {
  readonly sha256: string;
  readonly deploymentId: string;
  /** The signed manifest envelope, kept to re-verify at every start. */
  readonly manifest: Envelope<ModelManifest>;
}

export interface ActivePointer {
  readonly slot: SlotName;
  readonly sha256: string;
}

const other = (slot: SlotName): SlotName => (slot === 'a' ? 'b' : 'a');

/**
 * Two model slots on disk (A/B) and an `active.json` pointer switched by atomic rename. Staging writes
 * only the inactive slot, so the active model is never touched until the pointer flips; the previous
 * model stays in its slot for rollback until the next update overwrites it.
 */
export class SlotStore {
  constructor(private readonly root: string) {}

  modelPath(slot: SlotName): string {
    return join(this.root, 'slots', slot, 'model.bin');
  }

  async active(): Promise<ActivePointer | undefined> {
    return readJsonFile<ActivePointer>(join(this.root, 'active.json'));
  }

  async inactiveSlot(): Promise<SlotName> {
    const active = await this.active();
    return active ? other(active.slot) : 'a';
  }

  /** The slot's content record, its manifest parsed into the signed contract (TrustError `malformed` if not). */
  async content(slot: SlotName): Promise<SlotContent | undefined> {
    const raw = await this.record(slot);
    return raw && { sha256: raw.sha256, deploymentId: raw.deploymentId, manifest: parseManifestEnvelope(raw.manifest) };
  }

  /** The digests of the models on disk (active and previous slot). */
  async heldSha256s(): Promise<string[]> {
    const records = await Promise.all((['a', 'b'] as const).map((slot) => this.record(slot)));
    return records.flatMap((r) => (r ? [r.sha256] : []));
  }

  private record(slot: SlotName): Promise<{ sha256: string; deploymentId: string; manifest: unknown } | undefined> {
    return readJsonFile(join(this.root, 'slots', slot, 'content.json'));
  }

  /**
   * Copies verified bytes into the inactive slot: the content record is removed first and written last,
   * so a slot without a record is never trusted, whatever a crash left in it.
   */
  async stage(source: string, content: SlotContent, afterCopy?: () => void): Promise<SlotName> {
    const slot = await this.inactiveSlot();
    const dir = join(this.root, 'slots', slot);
    await mkdir(dir, { recursive: true });
    await rm(join(dir, 'content.json'), { force: true });
    await fsyncDirectory(dir);
    const temp = join(dir, 'model.bin.tmp');
    await copyFile(source, temp);
    await fsyncPath(temp);
    await rename(temp, this.modelPath(slot));
    await fsyncDirectory(dir);
    afterCopy?.();
    await writeJsonAtomic(join(dir, 'content.json'), content);
    return slot;
  }

  /**
   * Records a newly verified manifest for the bytes a slot already holds (a new version with known
   * bytes): one atomic write of the content record; the model file is not touched.
   */
  async relabel(slot: SlotName, content: SlotContent): Promise<void> {
    const current = await this.record(slot);
    if (current?.sha256 !== content.sha256) throw new Error(`slot ${slot} does not hold ${content.sha256}`);
    await writeJsonAtomic(join(this.root, 'slots', slot, 'content.json'), content);
  }

  /** Flips the pointer: from now on (and after any restart) `slot` is the model to serve. */
  async activate(slot: SlotName): Promise<void> {
    const content = await this.record(slot);
    if (!content) throw new Error(`slot ${slot} holds no verified model`);
    await writeJsonAtomic(join(this.root, 'active.json'), { slot, sha256: content.sha256 } satisfies ActivePointer);
  }
}
