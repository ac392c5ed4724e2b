import { randomBytes, randomUUID } from 'node:crypto';
import type { Envelope, ModelManifest } from '#trust';
import { SigningService } from '../../apps/control-plane/src/keys/signing.service.js';
import { waitFor } from './agent-process.js';
import type { SimulatedFleet } from './simulated-fleet.js';
import { bearer, createEnrollmentToken, hardware, type TestApp } from './test-app.js';

/** Registers a classifier model taking a [1, inputs] float input and giving [1, classes] probabilities. */
export async function createModel(t: TestApp, name: string, inputs: number, classes: number): Promise<void> {
  await t
    .http()
    .post('/v1/models')
    .set(bearer(t.adminKey))
    .send({ name, task: 'classification', inputSpec: { name: 'input', shape: [1, inputs] }, outputSpec: { name: 'probabilities', shape: [1, classes] } })
    .expect(201);
}

export interface VersionFields {
  readonly version: string;
  readonly variant?: string;
  readonly format?: 'onnx' | 'tfjs' | 'tflite';
  readonly engine?: 'onnxruntime' | 'tfjs' | 'litert';
  readonly selfTest?: { input: number[]; expectedOutput?: number[]; tolerance?: number };
  readonly preprocessing?: Record<string, unknown>;
  /** Training-time statistics for drift (libs/protocol drift.ts), signed into the manifest. */
  readonly referenceStats?: unknown;
  /** Store and ship the artifact in this content encoding (docs/protocol.md#artifact-encoding). */
  readonly encoding?: 'gzip';
}

/** The upload's answer: `sha256` is the model; `wire` the encoded form that travels, when uploaded with an encoding. */
export interface UploadedVersion {
  readonly id: string;
  readonly sha256: string;
  readonly wire?: { readonly encoding: string; readonly sha256: string; readonly sizeBytes: number };
}

/** Uploads an artifact as a version of `model` (ONNX fp32 unless told otherwise). */
export async function uploadVersion(t: TestApp, model: string, fields: VersionFields, artifact: Buffer): Promise<UploadedVersion> {
  const req = t
    .http()
    .post(`/v1/models/${model}/versions`)
    .set(bearer(t.adminKey))
    .field('version', fields.version)
    .field('variant', fields.variant ?? 'fp32')
    .field('format', fields.format ?? 'onnx')
    .field('engine', fields.engine ?? 'onnxruntime');
  // The control plane refuses a version without a self-test unless told to skip it explicitly.
  if (fields.selfTest) req.field('selfTest', JSON.stringify(fields.selfTest));
  else req.field('skipSelfTest', 'true');
  if (fields.preprocessing) req.field('preprocessing', JSON.stringify(fields.preprocessing));
  if (fields.referenceStats) req.field('referenceStats', JSON.stringify(fields.referenceStats));
  if (fields.encoding) req.field('encoding', fields.encoding);
  const res = await req.attach('artifact', artifact, 'model.bin').expect(201);
  return res.body as UploadedVersion;
}

/** Deploys a version to explicit nodes or to a label selector. */
export async function deploy(t: TestApp, modelVersionId: string, target: { nodeIds: string[] } | { selector: string }): Promise<{ id: string }> {
  const res = await t.http().post('/v1/deployments').set(bearer(t.adminKey)).send({ modelVersionId, ...target }).expect(201);
  return res.body as { id: string };
}

/** Enrols `count` nodes with `labels` through the real enrolment endpoint; returns their ids in order. */
export async function enrolNodes(t: TestApp, count: number, labels: Record<string, string> = {}, nodeHardware: Record<string, unknown> = hardware): Promise<string[]> {
  const { token } = await createEnrollmentToken(t, { maxUses: count, labels });
  const ids: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, (_, i) =>
      t
        .http()
        .post('/v1/enroll')
        .send({ token, nodeKey: `node-${start + i}-${randomBytes(6).toString('hex')}`, hardware: nodeHardware })
        .expect(200)
        .then((res) => res.body.nodeId as string),
    );
    ids.push(...(await Promise.all(batch)));
  }
  return ids;
}

/**
 * Inserts `count` nodes with `labels` straight into PostgreSQL, in one statement; returns their ids in
 * order. For tests about what happens after enrolment (ingest, rollouts, outages) on an anonymous test
 * broker, where a simulated node needs no credential of its own: enrolling 1,000 nodes over HTTP (one
 * transaction each under the token's row lock) cost broker-restarts tens of seconds. Tests of enrolment
 * itself use `enrolNodes`.
 */
export async function seedNodes(t: TestApp, count: number, labels: Record<string, string> = {}, nodeHardware: Record<string, unknown> = hardware): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await t.db.query(`INSERT INTO nodes (id, node_key, name, labels, hardware) SELECT id, id::text, id::text, $2::jsonb, $3::jsonb FROM unnest($1::uuid[]) AS id`, [
    ids,
    JSON.stringify(labels),
    JSON.stringify(nodeHardware),
  ]);
  return ids;
}

export interface RolloutView {
  id: string;
  state: string;
  currentWave: number;
  waveSizes: number[];
  haltReason: string | null;
  startedAt: string | null;
  waves: { wave: number; planned: number; states: Record<string, number>; shadow?: { verdict: string; reason: string | null; samples: number } }[];
  events: { kind: string; actor: string; detail: Record<string, unknown>; at: string }[];
}

/** Creates a rollout and (unless `start` is false) starts it; returns its id. */
export async function startRollout(t: TestApp, body: Record<string, unknown>, start: { at?: string } | false = {}): Promise<string> {
  const res = await t.http().post('/v1/rollouts').set(bearer(t.adminKey)).send({ name: 'test rollout', ...body }).expect(201);
  const id = res.body.id as string;
  if (start) await t.http().post(`/v1/rollouts/${id}/start`).set(bearer(t.adminKey)).send(start).expect(200);
  return id;
}

export async function getRollout(t: TestApp, id: string): Promise<RolloutView> {
  return (await t.http().get(`/v1/rollouts/${id}`).set(bearer(t.adminKey)).expect(200)).body as RolloutView;
}

/** Every node of a rollout (all pages), with its 1-based wave and state. */
export async function rolloutNodes(t: TestApp, id: string): Promise<{ nodeId: string; wave: number; state: string; attempts: number; reason: string | null }[]> {
  const all: { nodeId: string; wave: number; state: string; attempts: number; reason: string | null }[] = [];
  for (let after: string | undefined; ; ) {
    const page = (await t.http().get(`/v1/rollouts/${id}/nodes`).query({ limit: 1000, ...(after ? { after } : {}) }).set(bearer(t.adminKey)).expect(200)).body as typeof all;
    all.push(...page);
    if (page.length < 1000) return all;
    after = page.at(-1)?.nodeId;
  }
}

/**
 * Re-signs a stored version's manifest with another expected self-test output, bypassing the upload
 * check (which refuses a golden output the artifact does not give): how a test reaches the node-side
 * self-test, the defence that remains when a manifest was signed elsewhere or before that check.
 */
export async function resignWithExpectedOutput(t: TestApp, modelVersionId: string, expectedOutput: number[]): Promise<void> {
  const [row] = (await t.db.query(`SELECT manifest FROM model_versions WHERE id = $1`, [modelVersionId])) as { manifest: Envelope<ModelManifest> }[];
  if (!row) throw new Error(`no model version ${modelVersionId}`);
  const signed: ModelManifest = { ...row.manifest.signed, selfTest: { ...row.manifest.signed.selfTest, expectedOutput } };
  await t.db.query(`UPDATE model_versions SET manifest = $2 WHERE id = $1`, [modelVersionId, JSON.stringify(t.app.get(SigningService).manifest(signed))]);
}

/** Waits until the rollout is in one of `states`; returns it. */
export const waitForRolloutState = (t: TestApp, id: string, states: string[], timeoutMs = 30_000): Promise<RolloutView> =>
  waitFor(() => getRollout(t, id), (r) => states.includes(r.state), timeoutMs, `rollout ${states.join('|')}`);

/** Heartbeats until the control plane records `versionId` as the current version of every node named. */
export async function reportRunning(t: TestApp, fleet: SimulatedFleet, ids: string[], versionId: string): Promise<void> {
  await waitFor(
    async () => {
      await fleet.heartbeat(() => 10);
      return ((await t.db.query(`SELECT count(*)::int AS n FROM nodes WHERE id = ANY($1) AND current_model_version_id = $2`, [ids, versionId])) as { n: number }[])[0]?.n;
    },
    (n) => n === ids.length,
    10_000,
    'current version recorded',
  );
}
