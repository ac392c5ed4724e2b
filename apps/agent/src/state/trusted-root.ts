import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { rootEnvelopeSchema } from '#protocol';
import { type Envelope, isRootExpired, type RootDocument, rootFingerprint, TrustError, verifyInitialRoot, verifyThreshold, walkRootChain } from '#trust';
import { readJsonFile, writeJsonAtomic } from './atomic-file.js';

type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/** What the updater and the model loader need from the root of trust. */
export interface TrustSource {
  /** The newest verified root: every new document is verified against it. */
  readonly current: RootDocument;
  /** Whether the newest root has expired: then no new desired state is accepted (the model keeps serving). */
  readonly expired: boolean;
  /** Verifies the manifest of a model installed earlier (see `TrustedRoot.verifyInstalled`). */
  verifyInstalled(manifest: Envelope<unknown>): void;
}

const ROOTS_DIR = 'trust/roots';

/**
 * How far ahead of the trusted root an offered root may be to be kept until the versions before it
 * arrive. Anyone who can publish on the trust topic (a broker admin) could otherwise fill memory with
 * bogus versions; a genuine chain is walked one version at a time and is never this far ahead.
 */
export const MAX_ROOTS_AHEAD = 64;

/**
 * The node's root of trust: the root pinned at enrolment, then every newer root it verified, one
 * version at a time (each signed by the threshold of the one before and its own). Each verified root
 * is written atomically to `state/trust/roots/{version}.json` before anything is verified with it, so
 * a crash never leaves the node trusting a root it has not stored; at start the stored chain is walked
 * again from the pinned root (a tampered file stops the walk there).
 */
export class TrustedRoot implements TrustSource {
  private readonly chain: RootDocument[];
  private readonly offered = new Map<number, Envelope<RootDocument>>();
  private readonly refusedVersions = new Set<number>();
  private readonly listeners: (() => void)[] = [];
  private settling: Promise<void> = Promise.resolve();
  private expiredLogged = false;
  private farAheadLoggedAt?: number;

  private constructor(
    private readonly stateDir: string,
    pinned: RootDocument,
    private readonly log: Log,
  ) {
    this.chain = [pinned];
  }

  /** Loads the pinned root (its expiry matters for updates, not for serving) and the stored chain above it. */
  static async open(stateDir: string, pinned: Envelope<RootDocument>, log: Log): Promise<TrustedRoot> {
    const trust = new TrustedRoot(stateDir, verifyInitialRoot(pinned, new Date(0)), log);
    const dir = join(stateDir, ROOTS_DIR);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const stored = new Map<number, Envelope<RootDocument>>();
    for (const file of await readdir(dir)) {
      const version = /^(\d+)\.json$/.exec(file)?.[1];
      const envelope = version ? await readJsonFile<Envelope<RootDocument>>(join(dir, file)) : undefined;
      if (envelope && envelope.signed.version === Number(version)) stored.set(Number(version), envelope);
    }
    const walk = walkRootChain(trust.current, stored);
    trust.chain.push(...walk.verified.map((e) => e.signed));
    if (walk.refused) log('error', 'a stored root does not verify; trusting the last one that does', { rootVersion: trust.current.version, reason: walk.refused.message });
    trust.checkExpiry();
    return trust;
  }

  get current(): RootDocument {
    return this.chain[this.chain.length - 1] as RootDocument;
  }

  get expired(): boolean {
    return isRootExpired(this.current, new Date());
  }

  /** Called after each move to a newer root (e.g. to retry a desired state refused under the old one). */
  onAdvanced(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** A root from the broker: parsed, queued, and walked to after the roots before it (in order). */
  offer(value: unknown): void {
    const parsed = rootEnvelopeSchema.safeParse(value);
    if (!parsed.success) return this.log('warn', 'invalid root document', { detail: parsed.error.issues[0]?.message });
    const envelope = parsed.data as Envelope<RootDocument>;
    const ahead = envelope.signed.version - this.current.version;
    if (ahead <= 0) return;
    if (ahead > MAX_ROOTS_AHEAD) return this.ignoreFarAhead(envelope.signed.version);
    this.offered.set(envelope.signed.version, envelope);
    this.settling = this.settling.then(() => this.advance()).catch((error: unknown) => this.log('error', 'could not store a verified root', { err: error instanceof Error ? error.message : String(error) }));
  }

  /** Resolves once every root offered so far is walked to or refused: desired states wait for it. */
  settled(): Promise<void> {
    return this.settling;
  }

  /**
   * Verifies the release signatures of a model installed under this root or an earlier one of the
   * chain: a rotation does not unseat a model verified before it, but a revocation does (the newest
   * root's revoked keys never count, whichever root is tried).
   */
  verifyInstalled(manifest: Envelope<unknown>): void {
    const revoked = this.current.revokedKeyIds;
    let refusal: unknown;
    for (const root of [...this.chain].reverse()) {
      try {
        return verifyThreshold(manifest, root.roles.release, root.keys, revoked);
      } catch (error) {
        refusal ??= error;
      }
    }
    throw refusal;
  }

  /** Whether this root (its signed part, by fingerprint) is the pinned root or one walked to since. */
  trusts(root: RootDocument): boolean {
    const fingerprint = rootFingerprint(root);
    return this.chain.some((trusted) => trusted.version === root.version && rootFingerprint(trusted) === fingerprint);
  }

  /** How many offered roots wait for the versions before them (bounded by MAX_ROOTS_AHEAD). */
  get pendingCount(): number {
    return this.offered.size;
  }

  /** Logs (at error, once until it changes) that the newest root has expired: no update is accepted. */
  checkExpiry(): void {
    const expired = this.expired;
    if (expired && !this.expiredLogged) {
      this.log('error', 'the trusted root has expired: no new desired state is accepted until a newer root arrives; the current model keeps serving', { rootVersion: this.current.version, rootExpires: this.current.expires });
    }
    this.expiredLogged = expired;
  }

  private async advance(): Promise<void> {
    const walk = walkRootChain(this.current, this.offered);
    for (const envelope of walk.verified) {
      await writeJsonAtomic(join(this.stateDir, ROOTS_DIR, `${envelope.signed.version}.json`), envelope);
      const from = this.current.version;
      this.chain.push(envelope.signed);
      this.offered.delete(envelope.signed.version);
      this.log('info', 'moved to a newer root', { from, rootVersion: envelope.signed.version, revokedKeyIds: envelope.signed.revokedKeyIds });
    }
    for (const version of this.offered.keys()) if (version <= this.current.version) this.offered.delete(version);
    if (walk.refused) {
      // A refused root is dropped (a genuine one of that version may still come), so bogus roots do not pile up.
      this.offered.delete(this.current.version + 1);
      this.logRefusal(walk.refused);
    }
    if (walk.verified.length === 0) return;
    this.checkExpiry();
    for (const listener of this.listeners) listener();
  }

  /** Logged once per trusted version: a flood of bogus versions must not flood the log either. */
  private ignoreFarAhead(version: number): void {
    if (this.farAheadLoggedAt === this.current.version) return;
    this.farAheadLoggedAt = this.current.version;
    this.log('warn', 'ignored a root too far ahead of the trusted one', { rootVersion: this.current.version, offeredVersion: version, maxAhead: MAX_ROOTS_AHEAD });
  }

  private logRefusal(error: TrustError): void {
    const version = this.current.version + 1;
    if (this.refusedVersions.has(version)) return;
    this.refusedVersions.add(version);
    this.log('warn', 'refused a root', { rootVersion: this.current.version, refusedVersion: version, reason: error.reason, detail: error.message });
  }
}
