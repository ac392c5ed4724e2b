import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ConflictError, UnavailableError } from '#common';
import {
  assertNotExpired,
  type DesiredState,
  type Envelope,
  generateSigningKey,
  type ModelManifest,
  type RootDocument,
  signDesiredState,
  type SigningKey,
  signManifest,
  verifyInitialRoot,
  verifyThreshold,
  walkRootChain,
} from '#trust';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { KeyStore } from './key-store.js';

/** Called, in registration order, after this replica moved to a newer root. */
export type RootChangeListener = (root: Envelope<RootDocument>) => Promise<void>;

interface LoadedKeys {
  readonly root: Envelope<RootDocument>;
  /** Sign desired states: the director role's keys, or the release keys in a root without one. */
  readonly directorKeys: SigningKey[];
  /** Sign manifests; empty when publishers hold the release keys (publisher-signed releases). */
  readonly releaseKeys: SigningKey[];
}

/**
 * Signs manifests at upload and desired states at deployment with the release keys from the operator's
 * key directory (files, never the database). Every replica re-reads the directory each TRUST_RELOAD_MS
 * (and on `POST /v1/trust/reload`): a new root there (from `keys rotate`, `keys revoke` or
 * `keys root publish`) is checked as nodes will check it, then its keys replace the old ones and the
 * listeners publish it and re-sign what nodes hold. No restart, no re-enrolment.
 */
@Injectable()
export class SigningService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SigningService.name);
  private readonly store: KeyStore;
  private readonly listeners: RootChangeListener[] = [];
  private loaded?: LoadedKeys;
  private timer?: NodeJS.Timeout;
  private reloading?: Promise<{ version: number; changed: boolean }>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.store = new KeyStore(config.trust.keysDir);
  }

  async onModuleInit(): Promise<void> {
    this.loaded = await this.load();
    // Refuse to run with a root that nodes would refuse.
    verifyInitialRoot(this.loaded.root, new Date());
    await this.checkRootKeysOffline(this.loaded.root.signed);
    this.timer = setInterval(() => {
      this.reload().catch((error: unknown) => this.logger.error({ err: error }, 'could not reload the signing keys; keeping the loaded ones'));
    }, this.config.trust.reloadMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  onRootChanged(listener: RootChangeListener): void {
    this.listeners.push(listener);
  }

  /** The signed root handed to nodes at enrolment, which they pin. */
  get root(): Envelope<RootDocument> {
    if (!this.loaded) throw new UnavailableError('signing keys are not loaded');
    return this.loaded.root;
  }

  /** One published root version (public data), or undefined. */
  rootVersion(version: number): Promise<Envelope<RootDocument> | undefined> {
    return this.store.rootVersion(version);
  }

  /** Every published root, oldest first: what nodes walk through. */
  rootHistory(): Promise<Envelope<RootDocument>[]> {
    return this.store.rootHistory();
  }

  /**
   * Reads the key directory again. A newer root is taken only if the chain from the loaded root to it
   * verifies (each step signed by the old and the new root threshold) and it has not expired; then the
   * listeners run. Concurrent calls share one reload.
   */
  reload(): Promise<{ version: number; changed: boolean }> {
    this.reloading ??= this.reloadOnce().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** False in publisher-signed mode: manifests come signed by their publishers, never from here. */
  get holdsReleaseKeys(): boolean {
    return this.loaded !== undefined && this.loaded.releaseKeys.length > 0;
  }

  manifest(manifest: ModelManifest): Envelope<ModelManifest> {
    if (!this.holdsReleaseKeys) throw new ConflictError('this control plane holds no release key: manifests are signed by their publishers (`keys sign-release`)');
    return signManifest(manifest, this.loaded?.releaseKeys ?? []);
  }

  /**
   * A manifest signed as nodes will receive it, for sizing only: with throwaway keys (as many as the
   * release threshold; Ed25519 signatures all have one size) when publishers hold the release keys.
   */
  manifestForSizing(manifest: ModelManifest): Envelope<ModelManifest> {
    if (this.holdsReleaseKeys) return this.manifest(manifest);
    return signManifest(manifest, Array.from({ length: this.root.signed.roles.release.threshold }, generateSigningKey));
  }

  /** Refuses (TrustError) a publisher-signed manifest the current root's release threshold does not vouch for. */
  verifyRelease(envelope: Envelope<ModelManifest>): void {
    const root = this.root.signed;
    verifyThreshold(envelope, root.roles.release, root.keys, root.revokedKeyIds);
    assertNotExpired(envelope.signed.expires, new Date(), 'manifest');
  }

  /**
   * The manifest as nodes must receive it now: as stored if the current root's release threshold still
   * verifies it, otherwise signed again with the current release keys (after a rotation or revocation).
   */
  manifestForNodes(envelope: Envelope<ModelManifest>): Envelope<ModelManifest> {
    const root = this.root.signed;
    try {
      verifyThreshold(envelope, root.roles.release, root.keys, root.revokedKeyIds);
      return envelope;
    } catch {
      // Publisher-signed: only the publishers can sign it again; nodes will say why they refuse it.
      return this.holdsReleaseKeys ? this.manifest(envelope.signed) : envelope;
    }
  }

  desiredState(state: DesiredState): Envelope<DesiredState> {
    if (!this.loaded) throw new UnavailableError('signing keys are not loaded');
    return signDesiredState(state, this.loaded.directorKeys);
  }

  /**
   * Root keys in KEYS_DIR let whoever reads it rotate the root to keys of their own. In publisher-signed
   * mode (a director role) that undoes the point of the mode, so boot is refused; in the default mode
   * the control plane holds the release keys anyway, so it only warns (the demo and tests use it).
   */
  private async checkRootKeysOffline(root: RootDocument): Promise<void> {
    const held = await this.store.heldRootKeyIds();
    if (held.length === 0) return;
    const dir = `${this.config.trust.keysDir}/keys`;
    if (root.roles.director) {
      throw new UnavailableError(
        `publisher-signed mode, but root private keys ${held.join(', ')} are in ${dir}: whoever can read it can rotate the root to a release key of their own. Move them offline (each to its own machine) and delete them here, then start again`,
      );
    }
    this.logger.warn({ rootKeyIds: held, keysDir: this.config.trust.keysDir }, `root private keys are in ${dir}: anyone who can read it can rotate the root (and the release keys); move them offline for production (docs/security.md)`);
  }

  private async reloadOnce(): Promise<{ version: number; changed: boolean }> {
    const trusted = this.root.signed;
    const current = await this.store.currentRoot();
    if (current.signed.version === trusted.version) return { version: trusted.version, changed: false };
    const history = await this.store.rootHistory();
    const walk = walkRootChain(trusted, new Map(history.map((e) => [e.signed.version, e])));
    const reached = walk.verified.at(-1);
    if (walk.refused || reached?.signed.version !== current.signed.version) {
      throw new UnavailableError(`root version ${current.signed.version} in ${this.config.trust.keysDir} does not follow from the loaded version ${trusted.version}`, { cause: walk.refused });
    }
    assertNotExpired(current.signed.expires, new Date(), 'root');
    this.loaded = await this.load();
    this.logger.log({ from: trusted.version, rootVersion: current.signed.version, revokedKeyIds: current.signed.revokedKeyIds }, 'moved to a newer root and reloaded the signing keys');
    for (const listener of this.listeners) {
      await listener(current).catch((error: unknown) => this.logger.error({ err: error }, 'a root change listener failed'));
    }
    return { version: current.signed.version, changed: true };
  }

  private async load(): Promise<LoadedKeys> {
    try {
      const { director, release } = await this.store.signingKeys();
      return { root: await this.store.currentRoot(), directorKeys: director, releaseKeys: release };
    } catch (error) {
      throw new UnavailableError(
        `no usable keys in ${this.config.trust.keysDir}: create them with \`npm run keys -- init --dir ${this.config.trust.keysDir}\``,
        { cause: error },
      );
    }
  }
}
