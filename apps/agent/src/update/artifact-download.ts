import { createReadStream } from 'node:fs';
import { open as openFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type ArtifactEncoding, toRanges } from '#protocol';
import { type SignedArtifact, verifyArtifactStream, verifyEncodedArtifact } from '#trust';
import { fsyncDirectory } from '../state/atomic-file.js';
import { Superseded, throwIfSuperseded } from './abort.js';
import { type DownloadLayout, DownloadStore, InsufficientDiskError } from './download-store.js';
import { failpoint } from './failpoints.js';
import type { LogFn, UpdaterPorts } from './ports.js';
import type { VerifiedDesired } from './desired.js';
import { StepFailure, toStepFailure } from './step-failure.js';

export interface DownloadSettings {
  readonly stateDir: string;
  /** A download with no new chunk for this long asks for the missing ones. */
  readonly stallSeconds: number;
  /**
   * After this many repair requests without completion the download fails (`stalled`). Counted per
   * broker connection: stalls while disconnected are not the artifact's fault and do not count.
   */
  readonly repairAttempts: number;
}

/** The chunks to receive (the message's layout names the bytes that travel) and, when encoded, the model's decoded size. */
export function downloadLayout(target: VerifiedDesired): DownloadLayout {
  return target.manifest.encoding ? { ...target.message.artifact, decodedSize: target.manifest.size } : target.message.artifact;
}

/** What ended a wait for the next chunk. */
type Wake = 'chunk' | 'stall' | 'reconnected';

const MAX_RANGES_PER_REQUEST = 1024;
const VERIFY_STALL_MS = 30_000;

/**
 * One artifact being received: chunks from the broadcast (or repairs) are written to its download store
 * in arrival order; when they stop coming, the missing ones are asked for, a bounded number of times.
 * The store of the artifact being applied is the only one chunks are accepted for.
 */
export class ArtifactDownload {
  private current?: { readonly layout: DownloadLayout; readonly store: Promise<DownloadStore> };
  private writes: Promise<void> = Promise.resolve();
  private wake?: (why: Wake) => void;
  /** The broker connection as last reported (`connectionChanged`). */
  private online = true;
  /** A reconnect not yet seen by the receive loop (it may come while the loop is not waiting). */
  private reconnectPending = false;

  constructor(
    private readonly settings: DownloadSettings,
    private readonly requestChunks: UpdaterPorts['requestChunks'],
    private readonly log: LogFn,
  ) {}

  /** The artifact whose chunks are accepted now, if any. */
  get openSha256(): string | undefined {
    return this.current?.layout.sha256;
  }

  /** Opens (or reuses) the store for `layout`; from then on its chunks are written, not dropped. */
  open(layout: DownloadLayout): Promise<DownloadStore> {
    if (this.current?.layout.sha256 !== layout.sha256) {
      const store = DownloadStore.open(this.settings.stateDir, layout);
      store.catch(() => undefined); // the step that awaits it reports the failure
      this.current = { layout, store };
    }
    return this.current.store.catch((error: unknown) => {
      if (this.current?.layout.sha256 === layout.sha256) this.current = undefined; // a later open tries again
      if (error instanceof InsufficientDiskError) throw new StepFailure('insufficient-disk', error.message, { cause: error });
      throw error;
    });
  }

  onChunk(sha256: string, index: number, data: Buffer): void {
    const current = this.current;
    if (!current || current.layout.sha256 !== sha256) return;
    this.writes = this.writes
      .then(async () => {
        const store = await current.store;
        if (store.has(index)) return;
        await store.write(index, data);
        this.wake?.('chunk');
      })
      .catch((error: unknown) => this.log('warn', 'could not write a chunk', { sha256, index, err: error instanceof Error ? error.message : String(error) }));
  }

  /**
   * The broker connection came or went. Chunks (broadcast or repairs) published while the agent was away
   * may be lost: a reconnect asks for the missing ones at once, with a fresh allowance of repair requests.
   */
  connectionChanged(connected: boolean): void {
    const reconnected = connected && !this.online;
    this.online = connected;
    if (!reconnected) return;
    this.reconnectPending = true;
    this.wake?.('reconnected');
  }

  /**
   * Waits for every chunk; asks for the missing ones after each stall, at most `repairAttempts` times
   * per broker connection. A broker outage during a download (a restart, a flaky link) used to use up
   * the attempts within seconds and fail a good update as `stalled`; now it only waits.
   */
  async receive(layout: DownloadLayout, signal: AbortSignal): Promise<void> {
    const store = await this.open(layout);
    // A connect before this download began is not a reconnect of it: the broadcast is still to come.
    this.reconnectPending = false;
    let repairs = 0;
    try {
      while (!store.complete) {
        const wake = await this.nextChunk(signal);
        await this.writes;
        if (wake === 'chunk' || store.complete || !this.online) continue;
        if (wake === 'reconnected') {
          this.reconnectPending = false;
          repairs = 0;
        }
        if (++repairs > this.settings.repairAttempts) throw new StepFailure('stalled', `no progress after ${repairs - 1} repair requests (${store.missing().length} of ${layout.chunkCount} chunks missing)`);
        const missing = toRanges(store.missing());
        this.log('info', 'asking for missing chunks', { sha256: layout.sha256, chunks: store.missing().length, attempt: repairs });
        // Not awaited: in a partition the PUBACK never comes, and the stall clock must keep running.
        this.requestChunks(layout.sha256, missing.slice(0, MAX_RANGES_PER_REQUEST)).catch((error: unknown) =>
          this.log('warn', 'could not ask for missing chunks', { sha256: layout.sha256, err: error instanceof Error ? error.message : String(error) }),
        );
      }
    } finally {
      this.wake = undefined;
    }
    await store.save();
  }

  /**
   * Verifies the downloaded bytes against the signed manifest; bytes that fail are deleted, never reused.
   * An encoded download is checked against the signed encoding, then decoded (bounded to the signed
   * size) into the store's decoded file and checked against the model's digest; the file is renamed into
   * place only after both checks, so after a crash `decoded` exists only for bytes that verified.
   */
  async verify(layout: DownloadLayout, manifest: SignedArtifact): Promise<void> {
    const store = await this.open(layout);
    try {
      if (manifest.encoding) await decodeVerified(store, { ...manifest, encoding: manifest.encoding });
      else await verifyArtifactStream(createReadStream(store.dataPath), manifest, { stallTimeoutMs: VERIFY_STALL_MS });
    } catch (error) {
      await this.discard(layout.sha256);
      throw toStepFailure(error);
    }
  }

  /** The verified model's bytes, for staging: the decoded file of an encoded download. */
  async dataPath(layout: DownloadLayout, manifest: SignedArtifact): Promise<string> {
    const store = await this.open(layout);
    return manifest.encoding ? store.decodedPath : store.dataPath;
  }

  /** Deletes the current download, whichever it is (nothing is in flight). */
  async remove(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    if (!current) return;
    await this.writes;
    const store = await current.store.catch(() => undefined);
    await store?.remove();
  }

  /**
   * Nothing is in flight: deletes the current download, then the partial downloads of superseded or
   * failed deployments (they only take disk). A store opened meanwhile for a newer target is kept.
   */
  async removeAll(): Promise<void> {
    await this.remove();
    const pruned = await DownloadStore.prune(this.settings.stateDir, () => this.openSha256);
    if (pruned.length > 0) this.log('info', 'removed stale downloads', { artifacts: pruned });
  }

  /**
   * Deletes the download of one artifact (committed, failed or rolled back: its bytes are no longer
   * needed), leaving alone a newer target's store that may have been opened meanwhile.
   */
  async discard(sha256: string | undefined): Promise<void> {
    if (sha256 === undefined) return;
    if (this.current?.layout.sha256 === sha256) return this.remove();
    await DownloadStore.removeArtifact(this.settings.stateDir, sha256);
  }

  /** Why the wait ended: a chunk, `stallSeconds` without one, or a reconnect; Superseded when aborted. */
  private nextChunk(signal: AbortSignal): Promise<Wake> {
    throwIfSuperseded(signal);
    if (this.reconnectPending && this.online) return Promise.resolve('reconnected');
    return new Promise<Wake>((resolve, reject) => {
      const done = (why: Wake) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.wake = undefined;
        resolve(why);
      };
      const onAbort = () => {
        clearTimeout(timer);
        this.wake = undefined;
        reject(new Superseded());
      };
      const timer = setTimeout(() => done('stall'), this.settings.stallSeconds * 1000);
      this.wake = done;
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Decodes a verified encoded download into a temp file, then makes it the store's decoded file (fsync, rename, fsync the directory). */
async function decodeVerified(store: DownloadStore, manifest: SignedArtifact & { encoding: ArtifactEncoding }): Promise<void> {
  const temp = `${store.decodedPath}.tmp`;
  const file = await openFile(temp, 'w');
  try {
    await verifyEncodedArtifact(() => createReadStream(store.dataPath), manifest, {
      stallTimeoutMs: VERIFY_STALL_MS,
      onChunk: async (chunk) => void (await file.write(chunk)),
    });
    await file.sync();
  } finally {
    await file.close();
  }
  failpoint('verify:decoded'); // a crash here leaves only the temp file: the verify step runs again
  await rename(temp, store.decodedPath);
  await fsyncDirectory(dirname(store.decodedPath));
}
