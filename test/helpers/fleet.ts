import { randomBytes } from 'node:crypto';
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
  readonly selfTest?: { input: number[]; expectedOutput: number[]; tolerance: number };
  readonly preprocessing?: Record<string, unknown>;
}

/** Uploads an artifact as a version of `model` (ONNX fp32 unless told otherwise). */
export async function uploadVersion(t: TestApp, model: string, fields: VersionFields, artifact: Buffer): Promise<{ id: string; sha256: string }> {
  const req = t
    .http()
    .post(`/v1/models/${model}/versions`)
    .set(bearer(t.adminKey))
    .field('version', fields.version)
    .field('variant', fields.variant ?? 'fp32')
    .field('format', fields.format ?? 'onnx')
    .field('engine', fields.engine ?? 'onnxruntime');
  if (fields.selfTest) req.field('selfTest', JSON.stringify(fields.selfTest));
  if (fields.preprocessing) req.field('preprocessing', JSON.stringify(fields.preprocessing));
  const res = await req.attach('artifact', artifact, 'model.bin').expect(201);
  return res.body as { id: string; sha256: string };
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

export interface RolloutView {
  id: string;
  state: string;
  currentWave: number;
  waveSizes: number[];
  haltReason: string | null;
  startedAt: string | null;
  waves: { wave: number; planned: number; states: Record<string, number> }[];
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
