import { randomBytes } from 'node:crypto';
import type { Envelope, RootDocument } from '#trust';
import type { FleetEndpoint, SimNodeIdentity } from './ipc.js';

/** The control plane caps one enrolment token at this many uses (MAX_TOKEN_USES). */
const USES_PER_TOKEN = 10_000;
/** Enrolments in flight at once (with dynamic security each is several broker commands). */
const CONCURRENCY = 16;
/** A 503 (the broker's dynsec plugin did not answer in time) is retried this often, as an agent would. */
const ATTEMPTS = 5;

const HARDWARE = { arch: 'arm64', cpuCores: 4, ramMb: 4096, freeDiskMb: 20_000, engines: ['onnxruntime'], accelerators: [] };

interface EnrollAnswer {
  nodeId: string;
  root: Envelope<RootDocument>;
  mqtt: { url: string; username: string; password: string; namespace: string };
}

export class EnrolmentError extends Error {
  override readonly name = 'EnrolmentError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * Enrols `count` nodes through the real REST API (`POST /v1/enrollment-tokens`, then `POST /v1/enroll`
 * per node, as an agent does) and returns their broker identities with the fleet's endpoint.
 * `brokerUrl` overrides the URL the control plane hands out (a bench reaching the broker elsewhere).
 */
export async function enrolFleet(api: string, adminKey: string, count: number, labels: Record<string, string> = {}, brokerUrl?: string): Promise<{ endpoint: FleetEndpoint; nodes: SimNodeIdentity[] }> {
  const answers: EnrollAnswer[] = [];
  for (let base = 0; base < count; base += USES_PER_TOKEN) {
    const uses = Math.min(USES_PER_TOKEN, count - base);
    const { token } = await post<{ token: string }>(api, '/v1/enrollment-tokens', { name: 'fleet-sim', expiresInSeconds: 3600, maxUses: uses, labels }, adminKey);
    for (let i = 0; i < uses; i += CONCURRENCY) {
      const batch = Array.from({ length: Math.min(CONCURRENCY, uses - i) }, () =>
        enrolOne(api, token),
      );
      answers.push(...(await Promise.all(batch)));
    }
  }
  const first = answers[0];
  if (!first) throw new EnrolmentError('no node to enrol');
  const endpoint = { brokerUrl: brokerUrl ?? first.mqtt.url, namespace: first.mqtt.namespace, root: first.root };
  return { endpoint, nodes: answers.map((a) => ({ nodeId: a.nodeId, username: a.mqtt.username, password: a.mqtt.password })) };
}

async function enrolOne(api: string, token: string): Promise<EnrollAnswer> {
  const body = { token, nodeKey: `sim-${randomBytes(12).toString('hex')}`, hardware: HARDWARE };
  for (let attempt = 1; ; attempt++) {
    try {
      return await post<EnrollAnswer>(api, '/v1/enroll', body);
    } catch (error) {
      if (!(error instanceof EnrolmentError && error.status === 503) || attempt >= ATTEMPTS) throw error;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

async function post<T>(api: string, path: string, body: unknown, adminKey?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(adminKey ? { authorization: `Bearer ${adminKey}` } : {}) };
  const res = await fetch(new URL(path, api), { method: 'POST', headers, body: JSON.stringify(body) });
  if (!res.ok) throw new EnrolmentError(`POST ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`, res.status);
  return (await res.json()) as T;
}
