import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import {
  buildRoot,
  type Envelope,
  exportPrivateKey,
  generateSigningKey,
  importPrivateKey,
  rotateRoot,
  type RootDocument,
  signEnvelope,
  signRoot,
  type SigningKey,
  verifyInitialRoot,
} from '#trust';
import { nextRoot, type RootChange } from './root-change.js';

export interface InitOptions {
  readonly rootKeys: number;
  readonly rootThreshold: number;
  readonly releaseKeys: number;
  readonly releaseThreshold: number;
  readonly expiresDays: number;
  /**
   * `rootDir`: where the root private keys are written, outside the key directory — a control plane
   * that could read them could rotate the root to a release key of its own and ship any model.
   */
  readonly publisherSigned?: { readonly releaseDir: string; readonly rootDir: string; readonly directorKeys: number; readonly directorThreshold: number };
}

/** The key directory cannot do what was asked (a key file missing, a root that would not verify). */
export class KeyStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyStoreError';
  }
}

/**
 * Operator keys as files, outside the database: `keys/<keyId>.pem` (0600, in a 0700 directory),
 * `root.json` (the current signed root, public) and `root-history/<version>.json` (every root, so a
 * node pinned to an old root can walk the rotations one version at a time). Root keys may live
 * offline (elsewhere): then roots are changed with propose → sign (on the machines holding them) →
 * publish, and only release keys are in `keys/`.
 */
export class KeyStore {
  constructor(private readonly dir: string) {}

  /**
   * The first root. With `publisherSigned`, the root gets a director role (its keys here: the control
   * plane signs desired states) and the release keys go to `publisherSigned.releaseDir` — for the model
   * publishers, never this directory: the control plane then cannot sign a manifest. The root keys go
   * to `publisherSigned.rootDir` (to be moved offline), never this directory either.
   */
  async init(options: InitOptions): Promise<RootDocument> {
    if (options.publisherSigned) this.assertOutside(options.publisherSigned.rootDir, 'the root keys (--root-dir)');
    if (options.publisherSigned) this.assertOutside(options.publisherSigned.releaseDir, 'the release keys (--release-dir)');
    await mkdir(join(this.dir, 'keys'), { recursive: true, mode: 0o700 });
    await chmod(join(this.dir, 'keys'), 0o700);
    if (await this.currentRoot().then(() => true, () => false)) throw new KeyStoreError(`a root already exists in ${this.dir}; use rotate`);
    const publisher = options.publisherSigned;
    const rootKeys = await this.newKeys(options.rootKeys, publisher?.rootDir);
    const releaseKeys = await this.newKeys(options.releaseKeys, publisher?.releaseDir);
    const director = publisher ? { keys: await this.newKeys(publisher.directorKeys), threshold: publisher.directorThreshold } : undefined;
    const root = buildRoot({ version: 1, expires: daysFromNow(options.expiresDays), rootKeys, rootThreshold: options.rootThreshold, releaseKeys, releaseThreshold: options.releaseThreshold, director });
    const envelope = signRoot(root, rootKeys);
    verifyInitialRoot(envelope, new Date());
    await this.saveRoot(envelope);
    return root;
  }

  /** Replaces every key of a role with fresh ones, as root version + 1, signed with the root keys held here. */
  async rotate(role: 'root' | 'release', expiresDays: number): Promise<RootDocument> {
    const current = (await this.currentRoot()).signed;
    if (role === 'release' && current.roles.director) {
      throw new KeyStoreError('the publishers hold the release keys: they make new ones (`keys generate`) and you propose them (`keys root propose --release-key PUB`)');
    }
    const fresh = await this.newKeys(current.roles[role].keyIds.length);
    return this.signAndPublish(current, { expiresDays, ...(role === 'root' ? { rootKeys: fresh } : { releaseKeys: fresh }) }, role === 'root' ? fresh : []);
  }

  /** Revokes one key; a fresh replacement keeps its role at full strength. */
  async revoke(keyId: string, expiresDays: number): Promise<RootDocument> {
    const current = (await this.currentRoot()).signed;
    const roles = [current.roles.root, current.roles.release, current.roles.director];
    if (!roles.some((role) => role?.keyIds.includes(keyId))) throw new KeyStoreError(`key ${keyId} is not in the current root`);
    // Publishers' release keys are not replaced here (that would put a release key in this directory).
    const publishers = current.roles.director !== undefined && current.roles.release.keyIds.includes(keyId);
    const [replacement] = publishers ? [] : await this.newKeys(1);
    const change = { expiresDays, revoke: [keyId], replacements: replacement ? [replacement] : [] };
    return this.signAndPublish(current, change, current.roles.root.keyIds.includes(keyId) && replacement ? [replacement] : []);
  }

  /**
   * The next root, unsigned, for root keys that live offline: new root keys are given as public keys;
   * new release keys too when publishers hold them (a root with a director role), otherwise
   * `rotateRelease` and revoked release keys' replacements are created here (the control plane signs).
   */
  async propose(change: Omit<RootChange, 'replacements'> & { rotateRelease?: boolean }): Promise<Envelope<RootDocument>> {
    const current = (await this.currentRoot()).signed;
    const publishersHoldRelease = current.roles.director !== undefined;
    if (publishersHoldRelease && change.rotateRelease) throw new KeyStoreError('the publishers hold the release keys: give their new public keys (--release-key) instead of --rotate-release');
    const releaseKeys = change.rotateRelease ? await this.newKeys(current.roles.release.keyIds.length) : change.releaseKeys;
    const revokesRelease = (change.revoke ?? []).filter((id) => current.roles.release.keyIds.includes(id));
    const replacements = publishersHoldRelease ? [] : await this.newKeys(revokesRelease.length);
    return { signed: nextRoot(current, { ...change, releaseKeys, replacements }), signatures: [] };
  }

  /** Installs a signed proposal as the current root, if nodes would accept it (rotateRoot), and deletes the keys it retires. */
  async publish(envelope: Envelope<RootDocument>): Promise<RootDocument> {
    const current = (await this.currentRoot()).signed;
    try {
      rotateRoot(current, envelope, new Date());
    } catch (error) {
      throw new KeyStoreError(`root version ${envelope.signed.version} would be refused by nodes: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    await this.saveRoot(envelope);
    await this.deleteRetiredKeys(current, envelope.signed);
    return envelope.signed;
  }

  async currentRoot(): Promise<Envelope<RootDocument>> {
    return JSON.parse(await readFile(join(this.dir, 'root.json'), 'utf8')) as Envelope<RootDocument>;
  }

  /** One published root version, or undefined when there is none. */
  async rootVersion(version: number): Promise<Envelope<RootDocument> | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'root-history', `${version}.json`), 'utf8')) as Envelope<RootDocument>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Every published root, oldest first. */
  async rootHistory(): Promise<Envelope<RootDocument>[]> {
    const versions = (await readdir(join(this.dir, 'root-history'))).map((f) => /^(\d+)\.json$/.exec(f)?.[1]).filter((v) => v !== undefined).map(Number);
    const roots = await Promise.all(versions.sort((a, b) => a - b).map((v) => this.rootVersion(v)));
    return roots.filter((r) => r !== undefined);
  }

  async loadKey(keyId: string): Promise<SigningKey> {
    try {
      return importPrivateKey(await readFile(join(this.dir, 'keys', `${keyId}.pem`), 'utf8'));
    } catch (error) {
      throw new KeyStoreError(`no usable private key ${keyId} in ${join(this.dir, 'keys')}`, { cause: error });
    }
  }

  /**
   * The release keys the control plane signs with: enough unrevoked ones to meet the release threshold.
   * Keys of the role that are not on this machine are skipped, as long as enough remain.
   */
  async releaseKeys(): Promise<SigningKey[]> {
    const root = (await this.currentRoot()).signed;
    const role = root.roles.release;
    const held = await this.heldKeys(role.keyIds.filter((id) => !root.revokedKeyIds.includes(id)));
    if (held.length < role.threshold) {
      throw new KeyStoreError(`${held.length} of the ${role.threshold} release keys the threshold needs are in ${join(this.dir, 'keys')}`);
    }
    return held.slice(0, role.threshold);
  }

  /**
   * What the control plane signs with: desired states with the director keys (the release keys in a
   * root without a director role), manifests with the release keys — none when publishers hold them.
   */
  async signingKeys(): Promise<{ director: SigningKey[]; release: SigningKey[] }> {
    const root = (await this.currentRoot()).signed;
    if (!root.roles.director) {
      const release = await this.releaseKeys();
      return { director: release, release };
    }
    const director = await this.heldKeys(root.roles.director.keyIds.filter((id) => !root.revokedKeyIds.includes(id)));
    if (director.length < root.roles.director.threshold) {
      throw new KeyStoreError(`${director.length} of the ${root.roles.director.threshold} director keys the threshold needs are in ${join(this.dir, 'keys')}`);
    }
    const release = await this.releaseKeys().catch(() => []);
    return { director: director.slice(0, root.roles.director.threshold), release };
  }

  /** Signs a change with the root keys held here (old ones, and new ones it introduces) and publishes it. */
  private async signAndPublish(current: RootDocument, change: RootChange, newRootKeys: SigningKey[]): Promise<RootDocument> {
    const next = nextRoot(current, change);
    const held = await this.heldKeys(current.roles.root.keyIds.filter((id) => !next.revokedKeyIds.includes(id)));
    const needed = current.roles.root.threshold;
    if (held.length < needed) {
      throw new KeyStoreError(`only ${held.length} of the ${needed} root keys needed are in this directory (root keys kept offline?): use \`keys root propose\`, \`keys root sign\` and \`keys root publish\``);
    }
    return this.publish(signEnvelope(next, [...held, ...newRootKeys]));
  }

  /**
   * Deletes the private keys the new root no longer lists (rotated out or revoked): kept, they would
   * still sign for any node that has not yet moved to the new root, and nothing here needs them.
   */
  private async deleteRetiredKeys(previous: RootDocument, next: RootDocument): Promise<void> {
    const retired = Object.keys(previous.keys).filter((id) => !(id in next.keys));
    await Promise.all(retired.map((id) => rm(join(this.dir, 'keys', `${id}.pem`), { force: true })));
  }

  /** The ids of the current root's root keys whose private halves are in this directory. */
  async heldRootKeyIds(): Promise<string[]> {
    const root = (await this.currentRoot()).signed;
    return (await this.heldKeys(root.roles.root.keyIds)).map((k) => k.keyId);
  }

  /** Refuses a directory inside this one: whatever is written there, the control plane could read. */
  private assertOutside(dir: string, what: string): void {
    const inside = relative(resolve(this.dir), resolve(dir));
    if (!inside.startsWith('..') && !isAbsolute(inside)) {
      throw new KeyStoreError(`${what} must be written outside the control plane's key directory ${this.dir}, not ${dir}`);
    }
  }

  private async heldKeys(ids: readonly string[]): Promise<SigningKey[]> {
    const keys = await Promise.all(ids.map((id) => this.loadKey(id).catch(() => undefined)));
    return keys.filter((k) => k !== undefined);
  }

  private async newKeys(count: number, dir = join(this.dir, 'keys')): Promise<SigningKey[]> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keys = Array.from({ length: count }, generateSigningKey);
    for (const key of keys) await writeFile(join(dir, `${key.keyId}.pem`), exportPrivateKey(key), { mode: 0o600, flag: 'wx' });
    return keys;
  }

  private async saveRoot(envelope: Envelope<RootDocument>): Promise<void> {
    await mkdir(join(this.dir, 'root-history'), { recursive: true });
    const json = `${JSON.stringify(envelope, null, 2)}\n`;
    await writeFile(join(this.dir, 'root-history', `${envelope.signed.version}.json`), json, { flag: 'wx' });
    await writeFile(join(this.dir, 'root.json.tmp'), json);
    await rename(join(this.dir, 'root.json.tmp'), join(this.dir, 'root.json'));
  }
}

const daysFromNow = (days: number) => new Date(Date.now() + days * 86_400_000);
