import { bearer, type TestApp } from './test-app.js';

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
