import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildRoot,
  type Envelope,
  exportPrivateKey,
  generateSigningKey,
  importPrivateKey,
  rotateRoot,
  type RootDocument,
  signRoot,
  type SigningKey,
  verifyInitialRoot,
} from '#trust';

/**
 * Operator keys as files, outside the database: `keys/<keyId>.pem` (0600, in a 0700 directory),
 * `root.json` (the current signed root, public) and `root-history/<version>.json` (every root, so a
 * node pinned to an old root can walk the rotations one version at a time).
 */
export class KeyStore {
  constructor(private readonly dir: string) {}

  async init(options: { rootKeys: number; rootThreshold: number; releaseKeys: number; releaseThreshold: number; expiresDays: number }): Promise<RootDocument> {
    await mkdir(join(this.dir, 'keys'), { recursive: true, mode: 0o700 });
    await chmod(join(this.dir, 'keys'), 0o700);
    if (await this.currentRoot().then(() => true, () => false)) throw new Error(`a root already exists in ${this.dir}; use rotate`);
    const rootKeys = await this.newKeys(options.rootKeys);
    const releaseKeys = await this.newKeys(options.releaseKeys);
    const root = buildRoot({ version: 1, expires: daysFromNow(options.expiresDays), rootKeys, rootThreshold: options.rootThreshold, releaseKeys, releaseThreshold: options.releaseThreshold });
    const envelope = signRoot(root, rootKeys);
    verifyInitialRoot(envelope, new Date());
    await this.saveRoot(envelope);
    return root;
  }

  /** Replaces every key of a role with fresh ones, as root version + 1. */
  async rotate(role: 'root' | 'release', expiresDays: number): Promise<RootDocument> {
    const current = (await this.currentRoot()).signed;
    const fresh = await this.newKeys(current.roles[role].keyIds.length);
    return this.publishNext(current, expiresDays, role, fresh, []);
  }

  /** Revokes one key; a replacement keeps its role at full strength. */
  async revoke(keyId: string, expiresDays: number): Promise<RootDocument> {
    const current = (await this.currentRoot()).signed;
    const role = current.roles.root.keyIds.includes(keyId) ? 'root' : current.roles.release.keyIds.includes(keyId) ? 'release' : undefined;
    if (!role) throw new Error(`key ${keyId} is not in the current root`);
    const kept = await Promise.all(current.roles[role].keyIds.filter((id) => id !== keyId).map((id) => this.loadKey(id)));
    const [replacement] = await this.newKeys(1);
    return this.publishNext(current, expiresDays, role, [...kept, replacement!], [keyId]);
  }

  async currentRoot(): Promise<Envelope<RootDocument>> {
    return JSON.parse(await readFile(join(this.dir, 'root.json'), 'utf8')) as Envelope<RootDocument>;
  }

  async loadKey(keyId: string): Promise<SigningKey> {
    return importPrivateKey(await readFile(join(this.dir, 'keys', `${keyId}.pem`), 'utf8'));
  }

  /** The release keys the control plane signs manifests and desired states with. */
  async releaseKeys(): Promise<SigningKey[]> {
    const root = (await this.currentRoot()).signed;
    const ids = root.roles.release.keyIds.filter((id) => !root.revokedKeyIds.includes(id)).slice(0, root.roles.release.threshold);
    return Promise.all(ids.map((id) => this.loadKey(id)));
  }

  private async publishNext(current: RootDocument, expiresDays: number, role: 'root' | 'release', keys: SigningKey[], revoked: string[]): Promise<RootDocument> {
    const load = (ids: readonly string[]) => Promise.all(ids.filter((id) => !revoked.includes(id)).map((id) => this.loadKey(id)));
    const oldRootKeys = await load(current.roles.root.keyIds);
    const rootKeys = role === 'root' ? keys : oldRootKeys;
    const releaseKeys = role === 'release' ? keys : await load(current.roles.release.keyIds);
    const next = buildRoot({
      version: current.version + 1,
      expires: daysFromNow(expiresDays),
      rootKeys,
      rootThreshold: current.roles.root.threshold,
      releaseKeys,
      releaseThreshold: current.roles.release.threshold,
      revokedKeyIds: [...current.revokedKeyIds, ...revoked],
    });
    const signers = new Map([...oldRootKeys, ...rootKeys].map((k) => [k.keyId, k]));
    const envelope = signRoot(next, [...signers.values()]);
    rotateRoot(current, envelope, new Date()); // refuse to publish a root that nodes would refuse
    await this.saveRoot(envelope);
    return next;
  }

  private async newKeys(count: number): Promise<SigningKey[]> {
    const keys = Array.from({ length: count }, generateSigningKey);
    for (const key of keys) await writeFile(join(this.dir, 'keys', `${key.keyId}.pem`), exportPrivateKey(key), { mode: 0o600, flag: 'wx' });
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
