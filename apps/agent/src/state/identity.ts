import { randomBytes } from 'node:crypto';
import { mkdir, readFile, statfs } from 'node:fs/promises';
import { arch, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { type Envelope, type RootDocument, verifyInitialRoot } from '#trust';
import type { AgentConfig } from '../config.js';
import { engineNames } from '#inference';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from './atomic-file.js';

/** What enrolment gave this node; kept 0600 in the state directory. */
export interface NodeIdentity {
  readonly nodeId: string;
  readonly nodeSecret: string;
  readonly root: Envelope<RootDocument>;
  readonly mqtt: { readonly url: string; readonly username: string; readonly password: string; readonly clientId: string };
}

export class EnrollmentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EnrollmentError';
  }
}

const identityPath = (config: AgentConfig) => join(config.stateDir, 'identity.json');

export function loadIdentity(config: AgentConfig): Promise<NodeIdentity | undefined> {
  return readJsonFile<NodeIdentity>(identityPath(config));
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
  let response: Response;
  try {
    response = await fetch(new URL('/v1/enroll', config.controlPlaneUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new EnrollmentError(`cannot reach the control plane at ${config.controlPlaneUrl}`, { cause: error });
  }
  const answer = (await response.json().catch(() => ({}))) as Partial<NodeIdentity> & { detail?: string };
  if (!response.ok) throw new EnrollmentError(`enrolment refused (${response.status}): ${answer.detail ?? 'no detail'}`);
  if (!answer.nodeId || !answer.nodeSecret || !answer.root || !answer.mqtt) throw new EnrollmentError('enrolment answer is incomplete');
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
