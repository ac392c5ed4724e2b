import { randomUUID } from 'node:crypto';
import { type DesiredStateMessage, desiredStateMessage } from '#protocol';
import { type DesiredState, generateSigningKey, type ModelManifest, type SigningKey, signDesiredState, signManifest } from '#trust';
import type { VerifiedDesired } from '../../apps/agent/src/update/desired.js';

const HOUR_MS = 3_600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;

/** A model manifest for unit specs: model `m` 1.0.0 (sequence 1), created an hour ago, expiring in a year. */
export function testManifest(changes: Partial<ModelManifest> = {}): ModelManifest {
  return {
    type: 'model-manifest',
    name: 'm',
    version: '1.0.0',
    sequence: 1,
    variant: 'fp32',
    format: 'onnx',
    engine: 'onnxruntime',
    sha256: 'a'.repeat(64),
    size: 100,
    inputSpec: {},
    outputSpec: {},
    preprocessing: {},
    labels: [],
    selfTest: { input: [], expectedOutput: [], tolerance: 0 },
    created: new Date(Date.now() - HOUR_MS).toISOString(),
    expires: new Date(Date.now() + YEAR_MS).toISOString(),
    ...changes,
  };
}

export interface TestDesiredOptions {
  /** Signs the manifest (the release keys). */
  readonly releaseKeys: readonly SigningKey[];
  /** Signs the desired state; the release keys when absent. */
  readonly signers?: readonly SigningKey[];
  /** Fields of the desired state besides the defaults (node-a, deployment `dep-1`, issued now, expiring in a year). */
  readonly state?: Partial<Omit<DesiredState, 'manifest'>>;
}

/** A desired-state message for `manifest` as the control plane sends it, parsed by the wire schema. */
export function testDesiredMessage(manifest: ModelManifest, options: TestDesiredOptions): DesiredStateMessage {
  const issued = new Date().toISOString();
  const state: DesiredState = {
    type: 'desired-state',
    nodeId: 'node-a',
    deploymentId: 'dep-1',
    issued,
    expires: new Date(Date.now() + YEAR_MS).toISOString(),
    ...options.state,
    manifest: signManifest(manifest, options.releaseKeys),
  };
  const artifact = { sha256: manifest.sha256, size: manifest.size, chunkSize: 1024, chunkCount: Math.max(1, Math.ceil(manifest.size / 1024)) };
  return desiredStateMessage.parse({ v: 1, id: randomUUID(), ts: state.issued, desired: signDesiredState(state, options.signers ?? options.releaseKeys), artifact });
}

/**
 * A desired state as the updater holds it once DesiredIntake verified it, for specs of what runs after
 * verification (signed by a key of its own: nothing here checks it against a root).
 */
export function testVerifiedDesired(state: Partial<Omit<DesiredState, 'manifest'>> = {}, manifest = testManifest()): VerifiedDesired {
  const message = testDesiredMessage(manifest, { releaseKeys: [generateSigningKey()], state });
  return { message, state: message.desired.signed, manifest, issuedAt: Date.parse(message.desired.signed.issued) };
}
