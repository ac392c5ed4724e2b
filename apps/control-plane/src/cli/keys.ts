/**
 * Operator key management (keys live in files, never in the database):
 *   keys.js init   [--dir D] [--root-keys 3 --root-threshold 2 --release-keys 3 --release-threshold 2] [--expires-days 365]
 *                  [--publisher-signed --release-dir P --root-dir R [--director-keys 1 --director-threshold 1]]
 *       publisher-signed: the release keys go to P (the model publishers'), the root keys to R (move them
 *       offline; a control plane that starts with root keys in D refuses to run in this mode), a director
 *       role signs desired states, and the control plane holds no release key (it cannot ship a model on its own)
 *   keys.js sign-release FILE --key PRIVATE_KEY_FILE [--sequence N] [--expires-days 365]
 *       adds a release signature to a version's manifest (FILE: the `manifest` of GET /v1/models/{name}/versions);
 *       --sequence sets the release's sequence and lifetime first (dropping earlier signatures)
 *   keys.js rotate --role root|release [--dir D]      (root keys in D sign the new root; retired private keys are deleted)
 *   keys.js revoke --key KEY_ID [--dir D]             (likewise; a fresh key replaces the revoked one)
 * Root keys kept offline (each on its own machine):
 *   keys.js generate --out FILE                       a key pair: FILE (private, 0600) and FILE.pub
 *   keys.js root propose --out FILE [--rotate-release | --release-key PUB_FILE...] [--revoke KEY_ID]... [--root-key PUB_FILE]...
 *                        [--root-threshold N] [--release-threshold N] [--dir D]
 *   keys.js root sign FILE --key PRIVATE_KEY_FILE     adds one signature (on the machine holding the key)
 *   keys.js root publish FILE [--dir D]               checks the thresholds as nodes will, installs it
 *   keys.js root fingerprint [--dir D]                sha256 of the current root, for agents' `trustRootSha256`
 * The default directory is .edgefleet/keys. Control planes pick up a new root within TRUST_RELOAD_MS.
 * Prints the resulting root (public keys only); `init` also prints its fingerprint on stderr.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type Envelope, exportPrivateKey, exportPublicKey, generateSigningKey, importPrivateKey, importPublicKey, type ModelManifest, type RootDocument, rootFingerprint, signEnvelope, signManifest } from '#trust';
import { type InitOptions, KeyStore } from '../keys/key-store.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string', default: '.edgefleet/keys' },
    role: { type: 'string' },
    key: { type: 'string' },
    out: { type: 'string' },
    revoke: { type: 'string', multiple: true },
    'root-key': { type: 'string', multiple: true },
    'release-key': { type: 'string', multiple: true },
    'rotate-release': { type: 'boolean', default: false },
    'root-keys': { type: 'string', default: '3' },
    'root-threshold': { type: 'string' },
    'release-keys': { type: 'string', default: '3' },
    'release-threshold': { type: 'string' },
    'expires-days': { type: 'string', default: '365' },
    'publisher-signed': { type: 'boolean', default: false },
    'release-dir': { type: 'string' },
    'root-dir': { type: 'string' },
    'director-keys': { type: 'string', default: '1' },
    'director-threshold': { type: 'string', default: '1' },
    sequence: { type: 'string' },
  },
});

const store = new KeyStore(values.dir);
const expiresDays = Number(values['expires-days']);
const optionalInt = (value: string | undefined) => (value === undefined ? undefined : Number(value));
const usage = 'usage: keys.js init | rotate --role root|release | revoke --key KEY_ID | generate --out FILE | root propose --out FILE | root sign FILE --key FILE | root publish FILE | root fingerprint | sign-release FILE --key FILE   [--dir DIR]';

/** A command line that names no runnable command: what was wrong and what to do instead. */
class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\n${usage}`);
    this.name = 'UsageError';
  }
}

/** Adds a signature to a proposed root; a second signature by the same key replaces the first. */
async function signProposal(file: string, keyFile: string): Promise<RootDocument> {
  const proposal = JSON.parse(await readFile(file, 'utf8')) as Envelope<RootDocument>;
  const key = importPrivateKey(await readFile(keyFile, 'utf8'));
  const [signature] = signEnvelope(proposal.signed, [key]).signatures;
  const signatures = [...proposal.signatures.filter((s) => s.keyId !== key.keyId), ...(signature ? [signature] : [])];
  await writeFile(file, `${JSON.stringify({ signed: proposal.signed, signatures }, null, 2)}\n`);
  console.error(`signed by ${key.keyId} (${signatures.length} signature(s))`);
  return proposal.signed;
}

async function rootCommand(sub: string | undefined, file: string | undefined): Promise<unknown> {
  if (sub === 'propose' && values.out) {
    const publicKeys = (files: string[] | undefined) => Promise.all((files ?? []).map(async (f) => importPublicKey(await readFile(f, 'utf8'))));
    const rootKeys = await publicKeys(values['root-key']);
    const releaseKeys = await publicKeys(values['release-key']);
    const proposal = await store.propose({
      expiresDays,
      rotateRelease: values['rotate-release'],
      revoke: values.revoke,
      rootKeys: rootKeys.length > 0 ? rootKeys : undefined,
      releaseKeys: releaseKeys.length > 0 ? releaseKeys : undefined,
      rootThreshold: optionalInt(values['root-threshold']),
      releaseThreshold: optionalInt(values['release-threshold']),
    });
    await writeFile(values.out, `${JSON.stringify(proposal, null, 2)}\n`, { flag: 'wx' });
    return proposal.signed;
  }
  if (sub === 'sign' && file && values.key) return signProposal(file, values.key);
  if (sub === 'publish' && file) return store.publish(JSON.parse(await readFile(file, 'utf8')) as Envelope<RootDocument>);
  if (sub === 'fingerprint') return { version: (await store.currentRoot()).signed.version, sha256: rootFingerprint((await store.currentRoot()).signed) };
  return undefined;
}

/** A publisher's release signature on a version's manifest (FILE holds the envelope, signed or not yet). */
async function signRelease(file: string, keyFile: string): Promise<ModelManifest> {
  const stored = JSON.parse(await readFile(file, 'utf8')) as Envelope<ModelManifest>;
  const key = importPrivateKey(await readFile(keyFile, 'utf8'));
  const sequence = optionalInt(values.sequence);
  const now = new Date();
  const signed: ModelManifest =
    sequence === undefined ? stored.signed : { ...stored.signed, sequence, created: now.toISOString(), expires: new Date(now.getTime() + expiresDays * 86_400_000).toISOString() };
  const kept = sequence === undefined ? stored.signatures.filter((s) => s.keyId !== key.keyId) : [];
  const envelope = { signed, signatures: [...kept, ...signManifest(signed, [key]).signatures] };
  await writeFile(file, `${JSON.stringify(envelope, null, 2)}\n`);
  console.error(`signed ${signed.name} ${signed.version} (${signed.variant}) sequence ${signed.sequence} by ${key.keyId} (${envelope.signatures.length} signature(s))`);
  return signed;
}

async function generate(out: string): Promise<{ keyId: string }> {
  const key = generateSigningKey();
  await writeFile(out, exportPrivateKey(key), { mode: 0o600, flag: 'wx' });
  await writeFile(`${out}.pub`, exportPublicKey(key), { flag: 'wx' });
  return { keyId: key.keyId };
}

function publisherSigned(): InitOptions['publisherSigned'] {
  if (!values['publisher-signed']) return undefined;
  if (!values['release-dir']) throw new UsageError('--publisher-signed needs --release-dir: where the publishers\' release keys are written (not --dir)');
  if (!values['root-dir']) {
    throw new UsageError('--publisher-signed needs --root-dir: where the root keys are written (not --dir; the control plane must never hold them — move them offline afterwards)');
  }
  return { releaseDir: values['release-dir'], rootDir: values['root-dir'], directorKeys: Number(values['director-keys']), directorThreshold: Number(values['director-threshold']) };
}

async function init(): Promise<RootDocument> {
  const root = await store.init({
    rootKeys: Number(values['root-keys']),
    rootThreshold: optionalInt(values['root-threshold']) ?? 2,
    releaseKeys: Number(values['release-keys']),
    releaseThreshold: optionalInt(values['release-threshold']) ?? 2,
    expiresDays,
    publisherSigned: publisherSigned(),
  });
  console.error(`root fingerprint (agents' trustRootSha256): ${rootFingerprint(root)}`);
  if (!values['publisher-signed']) console.error(`the root keys are in ${values.dir}/keys: move them offline for production (docs/security.md)`);
  return root;
}

async function run(command: string | undefined): Promise<unknown> {
  switch (command) {
    case 'init':
      return init();
    case 'sign-release':
      return positionals[1] && values.key ? signRelease(positionals[1], values.key) : undefined;
    case 'rotate':
      return values.role === 'root' || values.role === 'release' ? store.rotate(values.role, expiresDays) : undefined;
    case 'revoke':
      if (!values.key) throw new UsageError('revoke needs --key KEY_ID: the id of the key to revoke, as listed in root.json (`roles` and `keys`)');
      return store.revoke(values.key, expiresDays);
    case 'generate':
      return values.out ? generate(values.out) : undefined;
    case 'root':
      return rootCommand(positionals[1], positionals[2]);
    case undefined:
      throw new UsageError('no command given');
    default:
      throw new UsageError(`unknown command \`${command}\``);
  }
}

try {
  const result = await run(positionals[0]);
  if (!result) {
    console.error(usage);
    process.exit(64);
  }
  console.log(JSON.stringify(result, null, 2));
} catch (error) {
  console.error(`keys: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(error instanceof UsageError ? 64 : 1);
}
