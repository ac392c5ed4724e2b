import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, statfs } from 'node:fs/promises';
import { arch, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isFleetNamespace } from '#protocol';
import { type Envelope, type RootDocument, verifyInitialRoot } from '#trust';
import type { AgentConfig } from '../config.js';
import { engineNames } from '#inference';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from './atomic-file.js';
import { postJson } from './post-json.js';

/** What enrolment gave this node; kept 0600 in the state directory. */
export interface NodeIdentity {
  readonly nodeId: string;
  readonly nodeSecret: string;
  readonly root: Envelope<RootDocument>;
  /** `namespace`: the installation's topic namespace (`ef/v1/{namespace}/…`), told at enrolment. */
  readonly mqtt: { readonly url: string; readonly username: string; readonly password: string; readonly clientId: string; readonly namespace: string };
  /** The node's Ed25519 private key registered at enrolment (signs re-enrolment proofs and attestation reports). */
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
 * and the node enrols again (same node key, same token: the same node, a fresh secret).
 */
export async function loadIdentity(config: AgentConfig, onOutdated?: () => void): Promise<NodeIdentity | undefined> {
  const saved = await readJsonFile<NodeIdentity>(identityPath(config));
  if (saved && !isFleetNamespace(saved.mqtt?.namespace)) {
    onOutdated?.();
    return undefined;
  }
  return saved;
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

/** Enrols with the control plane (idempotent per node key) and pins the root it hands out. */
export async function enroll(config: AgentConfig): Promise<NodeIdentity> {
  if (!config.enrollmentToken) throw new EnrollmentError('no enrollmentToken in the config');
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  const body = { token: config.enrollmentToken, nodeKey: await nodeKey(config), name: config.name, hardware: await hardwareProfile(config.stateDir) };
  let response: { status: number; ok: boolean; json: unknown };
  try {
    response = await postJson(new URL('/v1/enroll', config.controlPlaneUrl), body, 15_000);
  } catch (error) {
    throw new EnrollmentError(`cannot reach the control plane at ${config.controlPlaneUrl}`, { cause: error, retryable: true });
  }
  const answer = (typeof response.json === 'object' && response.json !== null ? response.json : {}) as Partial<NodeIdentity> & { detail?: string };
  if (!response.ok) {
    const retryable = response.status >= 500 || response.status === 409 || response.status === 429;
    throw new EnrollmentError(`enrolment refused (${response.status}): ${answer.detail ?? 'no detail'}`, { retryable });
  }
  if (!answer.nodeId || !answer.nodeSecret || !answer.root || !answer.mqtt) throw new EnrollmentError('enrolment answer is incomplete');
  if (!isFleetNamespace(answer.mqtt.namespace)) throw new EnrollmentError('enrolment answer names no fleet namespace: the control plane is older than this agent');
  verifyInitialRoot(answer.root, new Date()); // a root that does not verify is not pinned
  const identity: NodeIdentity = {
    nodeId: answer.nodeId,
    nodeSecret: answer.nodeSecret,
    root: answer.root,
    mqtt: { ...answer.mqtt, url: config.brokerUrl ?? answer.mqtt.url },
  };
  await writeJsonAtomic(identityPath(config), identity);
  return identity;
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
