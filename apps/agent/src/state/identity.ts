import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { mkdir, readFile, statfs } from 'node:fs/promises';
import { arch, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isFleetNamespace } from '#protocol';
import { type Envelope, importPrivateKey, type RootDocument, rootFingerprint, type SigningKey, signEnrolmentProof, verifyInitialRoot } from '#trust';
import type { AgentConfig } from '../config.js';
import { engineNames } from '#inference';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from './atomic-file.js';
import { getJson, postJson } from './post-json.js';
import { MAX_ROOTS_AHEAD, TrustedRoot } from './trusted-root.js';

/** What enrolment gave this node; kept 0600 in the state directory. */
export interface NodeIdentity {
  readonly nodeId: string;
  readonly nodeSecret: string;
  readonly root: Envelope<RootDocument>;
  /** `namespace`: the installation's topic namespace (`ef/v1/{namespace}/…`), told at enrolment. */
  readonly mqtt: { readonly url: string; readonly username: string; readonly password: string; readonly clientId: string; readonly namespace: string };
  /**
   * The node's Ed25519 private key registered at enrolment (signs re-enrolment proofs and attestation
   * reports). Read from `enrolment-key.pem`, never written into `identity.json`; absent for a node
   * enrolled before key pairs existed.
   */
  readonly signingKey?: KeyObject;
}

/**
 * Enrolment did not give this node an identity. `retryable`: the control plane could not be reached or
 * failed on its side (network error, timeout, 5xx, 409 concurrent enrolment, 429), so trying again later
 * can work; otherwise the configuration is wrong (bad token, wrong URL, incompatible control plane).
 */
export class EnrollmentError extends Error {
  readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options);
    this.name = 'EnrollmentError';
    this.retryable = options?.retryable ?? false;
  }
}

const identityPath = (config: AgentConfig) => join(config.stateDir, 'identity.json');

/**
 * The identity saved at enrolment, or undefined when there is none. An identity saved before fleet
 * namespaces existed has no `mqtt.namespace`: no topic it knows is used any more, so it counts as none
 * and the node enrols again (same node key, proven by its key pair: the same node, a fresh secret).
 */
export async function loadIdentity(config: AgentConfig, onOutdated?: () => void): Promise<NodeIdentity | undefined> {
  const saved = await readJsonFile<NodeIdentity>(identityPath(config));
  if (saved && !isFleetNamespace(saved.mqtt?.namespace)) {
    onOutdated?.();
    return undefined;
  }
  if (!saved) return undefined;
  // Serving does not need the key: an unreadable one is reported by the next enrolment, which does.
  const key = await readEnrolmentKey(config).catch(() => undefined);
  return key ? { ...saved, signingKey: key.privateKey } : saved;
}

/** The node key is generated once and kept: it makes a retried enrolment return the same node. */
async function nodeKey(config: AgentConfig): Promise<string> {
  const path = join(config.stateDir, 'node-key');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    const key = `node-${randomBytes(16).toString('hex')}`;
    await writeFileAtomic(path, key);
    return key;
  }
}

async function hardwareProfile(stateDir: string) {
  const disk = await statfs(stateDir);
  return {
    arch: arch(),
    cpuCores: Math.max(1, cpus().length),
    ramMb: Math.round(totalmem() / 1024 / 1024),
    freeDiskMb: Math.floor((disk.bavail * disk.bsize) / 1024 / 1024),
    engines: engineNames(),
    accelerators: [],
  };
}

/**
 * The node's Ed25519 key pair, generated at its first enrolment and kept (private key PKCS#8 PEM, 0600):
 * the control plane registers the public key, and every later enrolment of this node must be signed by
 * it. Lose this file and only an administrator's identity reset lets the node enrol again as itself.
 */
async function enrolmentKey(config: AgentConfig): Promise<SigningKey> {
  const existing = await readEnrolmentKey(config);
  if (existing) return existing;
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeFileAtomic(enrolmentKeyPath(config), pem);
  return importPrivateKey(pem);
}

const enrolmentKeyPath = (config: AgentConfig) => join(config.stateDir, 'enrolment-key.pem');

/** The saved key pair; undefined when there is none yet. A file that does not parse is an error, not a new key. */
async function readEnrolmentKey(config: AgentConfig): Promise<SigningKey | undefined> {
  const path = enrolmentKeyPath(config);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EnrollmentError(`cannot read the node's key ${path}`, { cause: error });
  }
  try {
    return importPrivateKey(pem);
  } catch (error) {
    throw new EnrollmentError(`the node's key ${path} does not parse: an administrator must reset this node's identity before it can enrol again`, { cause: error });
  }
}

type Answer = Record<string, unknown> & { detail?: string };

async function post(config: AgentConfig, path: string, body: unknown): Promise<{ status: number; ok: boolean; answer: Answer }> {
  let response: { status: number; ok: boolean; json: unknown };
  try {
    response = await postJson(new URL(path, config.controlPlaneUrl), body, 15_000);
  } catch (error) {
    throw new EnrollmentError(`cannot reach the control plane at ${config.controlPlaneUrl}`, { cause: error, retryable: true });
  }
  const answer = (typeof response.json === 'object' && response.json !== null ? response.json : {}) as Answer;
  return { status: response.status, ok: response.ok, answer };
}

const refused = (status: number, answer: Answer, what = 'enrolment') =>
  new EnrollmentError(`${what} refused (${status}): ${answer.detail ?? 'no detail'}`, { retryable: status >= 500 || status === 409 || status === 429 });

/**
 * A signed challenge when the control plane knows this node and its key; undefined when the node is not
 * enrolled yet (404) or has no registered key (409: enrolled before keys existed, or an identity reset),
 * in which case it enrols with its token.
 */
async function proofOfKey(config: AgentConfig, nodeKey: string, key: SigningKey): Promise<{ nonce: string; signature: string } | undefined> {
  const { status, ok, answer } = await post(config, '/v1/enroll/challenge', { nodeKey });
  if (status === 404 || status === 409) return undefined;
  if (!ok) throw refused(status, answer, 'challenge');
  if (typeof answer['nonce'] !== 'string') throw new EnrollmentError('challenge answer has no nonce');
  const nonce = answer['nonce'];
  return { nonce, signature: signEnrolmentProof(key.privateKey, { nonce, nodeKey, publicKey: key.publicKey }) };
}

/**
 * Enrols with the control plane and pins the root it hands out. A node the control plane already knows
 * proves it holds its registered key (a signed challenge) and needs no token; only a new node (or one
 * whose identity an administrator reset) spends `enrollmentToken`. The token is never written to the
 * state directory.
 */
export async function enroll(config: AgentConfig): Promise<NodeIdentity> {
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  const nodeKeyValue = await nodeKey(config);
  const key = await enrolmentKey(config);
  const proof = await proofOfKey(config, nodeKeyValue, key);
  if (!proof && !config.enrollmentToken) throw new EnrollmentError('no enrollmentToken in the config, and the control plane does not know this node by its key');
  const credential = proof ? { proof } : { token: config.enrollmentToken };
  const body = { ...credential, nodeKey: nodeKeyValue, publicKey: key.publicKey, name: config.name, hardware: await hardwareProfile(config.stateDir) };
  const { status, ok, answer: raw } = await post(config, '/v1/enroll', body);
  if (!ok) throw refused(status, raw);
  const answer = raw as Partial<NodeIdentity> & Answer;
  if (!answer.nodeId || !answer.nodeSecret || !answer.root || !answer.mqtt) throw new EnrollmentError('enrolment answer is incomplete');
  if (!isFleetNamespace(answer.mqtt.namespace)) throw new EnrollmentError('enrolment answer names no fleet namespace: the control plane is older than this agent');
  verifyInitialRoot(answer.root, new Date()); // a root that does not verify is not pinned
  const previous = await readJsonFile<NodeIdentity>(identityPath(config));
  const root = previous?.root ? await keepTrustedChain(config, previous.root, answer.root) : pinFirstRoot(config, answer.root);
  const identity: NodeIdentity = {
    nodeId: answer.nodeId,
    nodeSecret: answer.nodeSecret,
    root,
    mqtt: { ...answer.mqtt, url: config.brokerUrl ?? answer.mqtt.url },
  };
  await writeJsonAtomic(identityPath(config), identity);
  return { ...identity, signingKey: key.privateKey };
}

/**
 * The first root a node trusts comes from the enrolment answer: with `trustRootSha256` it must be that
 * root (an on-path attacker on plain HTTP could otherwise hand over a root of their own).
 */
function pinFirstRoot(config: AgentConfig, root: Envelope<RootDocument>): Envelope<RootDocument> {
  if (config.trustRootSha256 === undefined) return root;
  const fingerprint = rootFingerprint(root.signed);
  if (fingerprint !== config.trustRootSha256) {
    throw new EnrollmentError(
      `the control plane's root (version ${root.signed.version}, sha256 ${fingerprint}) does not match trustRootSha256 ${config.trustRootSha256}: not pinned. Check the fingerprint (\`npm run keys -- root fingerprint\`) and the controlPlaneUrl (use https://)`,
    );
  }
  return root;
}

/**
 * Re-enrolment keeps the chain the node already trusts (`identity.root` and `state/trust/roots`): the
 * answered root is taken only if it is in that chain or the chain walks to it (missing versions fetched
 * from `GET /v1/trust/root/{version}`, each verified as a rotation from the broker would be).
 */
async function keepTrustedChain(config: AgentConfig, pinned: Envelope<RootDocument>, answered: Envelope<RootDocument>): Promise<Envelope<RootDocument>> {
  const refusals: string[] = [];
  const trust = await TrustedRoot.open(config.stateDir, pinned, (_level, message, fields) => refusals.push(`${message}${fields?.['detail'] ? `: ${String(fields['detail'])}` : ''}`));
  if (trust.trusts(answered.signed)) return pinned;
  const from = trust.current.version;
  const to = answered.signed.version;
  if (to > from && to - from <= MAX_ROOTS_AHEAD) {
    for (let version = from + 1; version < to; version++) trust.offer(await fetchRoot(config, version));
    trust.offer(answered);
    await trust.settled();
    if (trust.trusts(answered.signed)) return pinned;
  }
  throw new EnrollmentError(
    `the control plane answered root version ${to}, which does not follow from the root this node trusts (version ${from})${refusals.length > 0 ? ` (${refusals.join('; ')})` : ''}: refusing to re-pin. If the fleet's root was really replaced, reset this node (remove ${config.stateDir}) and enrol it again`,
  );
}

async function fetchRoot(config: AgentConfig, version: number): Promise<unknown> {
  let response: { status: number; ok: boolean; json: unknown };
  try {
    response = await getJson(new URL(`/v1/trust/root/${version}`, config.controlPlaneUrl), 15_000);
  } catch (error) {
    throw new EnrollmentError(`cannot reach the control plane at ${config.controlPlaneUrl}`, { cause: error, retryable: true });
  }
  if (!response.ok) throw new EnrollmentError(`root version ${version} is not available from the control plane (${response.status})`, { retryable: response.status >= 500 });
  return response.json;
}

/** Warns when the first root would come over plain HTTP with nothing to check it against (not at re-enrolment: the chain is kept). */
export async function warnIfFirstRootUnpinned(config: AgentConfig, log: EnrollmentRetry['log']): Promise<void> {
  if (config.trustRootSha256 !== undefined || new URL(config.controlPlaneUrl).protocol !== 'http:') return;
  if ((await readJsonFile<NodeIdentity>(identityPath(config)))?.root) return;
  log('warn', 'enrolling over plain HTTP with no trustRootSha256: an on-path attacker could hand this node a root of their own; pin the root fingerprint or use https://', { controlPlaneUrl: config.controlPlaneUrl });
}

export interface EnrollmentRetry {
  readonly log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Aborting (SIGTERM) ends the wait with the signal's reason. */
  readonly signal?: AbortSignal;
  readonly firstDelayMs?: number;
  readonly maxDelayMs?: number;
}

/**
 * Enrols, waiting with capped exponential backoff (1 s doubling to 30 s, jittered) while the control
 * plane is unreachable or failing: a node set up before its control plane, or during an outage, comes
 * up by itself. A permanent refusal (bad token, wrong URL) is thrown at once.
 */
export async function enrollWhenReachable(config: AgentConfig, retry: EnrollmentRetry): Promise<NodeIdentity> {
  const first = retry.firstDelayMs ?? 1000;
  const max = retry.maxDelayMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      const identity = await enroll(config);
      if (attempt > 1) retry.log('info', 'enrolled after waiting for the control plane', { controlPlaneUrl: config.controlPlaneUrl, attempts: attempt });
      return identity;
    } catch (error) {
      if (!(error instanceof EnrollmentError) || !error.retryable) throw error;
      const waitMs = Math.round(Math.min(max, first * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5));
      retry.log('warn', 'waiting for the control plane to enrol', {
        controlPlaneUrl: config.controlPlaneUrl,
        attempt,
        retryInMs: waitMs,
        reason: error.message,
        cause: error.cause instanceof Error ? error.cause.message : undefined,
      });
      await delay(waitMs, undefined, { signal: retry.signal });
    }
  }
}
