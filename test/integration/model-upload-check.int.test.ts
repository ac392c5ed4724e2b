import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Envelope, type ModelManifest, verifyInitialRoot, verifyManifest } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { createModel } from '../helpers/fleet.js';
import { denseSoftmaxModel, denseSoftmaxTflite } from '../helpers/onnx-model.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

const INPUTS = 16;
const CLASSES = 4;
const README = Buffer.from('# digits-cnn\n\nA small CNN for MNIST. Export it with `npm run train`.\n');

/**
 * Issue 10, trap 7: an artifact is loaded with the engine its format names and run as the model
 * declares before anything is signed; garbage is refused with 422 problem+json naming the problem.
 */
describe('uploads are checked with the engine their format names', () => {
  let t: TestApp;
  const model = denseSoftmaxModel(7, INPUTS, CLASSES);
  const golden = Array.from({ length: INPUTS }, (_, i) => (i % 4) / 4);

  const upload = (name: string, version: string, bytes: Buffer | Uint8Array, fields: Record<string, unknown> = {}) => {
    const req = t.http().post(`/v1/models/${name}/versions`).set(bearer(t.adminKey));
    const all: Record<string, unknown> = { version, variant: 'fp32', format: 'onnx', engine: 'onnxruntime', ...fields };
    for (const [k, v] of Object.entries(all)) req.field(k, typeof v === 'string' ? v : JSON.stringify(v));
    return req.attach('artifact', Buffer.from(bytes), 'model.bin');
  };
  const versions = async (name: string) => (await t.http().get(`/v1/models/${name}/versions`).set(bearer(t.adminKey)).expect(200)).body as { version: string }[];
  const tempFiles = () => readdir(join(t.config.artifacts.dir, 'tmp')).catch(() => [] as string[]);
  const expect422 = (res: { status: number; headers: Record<string, string>; body: { detail?: string } }, detail: RegExp) => {
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toMatch(detail);
    expect(res.body.detail).not.toContain(t.config.artifacts.dir); // engines name the file; we do not
  };

  beforeAll(async () => {
    t = await startTestApp();
    await createModel(t, 'checked', INPUTS, CLASSES);
  });
  afterAll(() => t.close());

  it.each([
    ['onnx', 'onnxruntime', /does not load as onnx with onnxruntime/],
    ['tflite', 'litert', /does not load as tflite with litert/],
    ['tfjs', 'tfjs', /does not load as tfjs with tfjs/],
  ])('refuses a README uploaded as %s (422), signs nothing and keeps no file', async (format, engine, detail) => {
    expect422(await upload('checked', '0.1.0', README, { format, engine, skipSelfTest: 'true' }), detail);
    expect(await versions('checked')).toEqual([]);
    expect(await tempFiles()).toEqual([]);
  });

  it('refuses a real model whose input or output does not match what the model declares', async () => {
    await createModel(t, 'wide', INPUTS * 2, CLASSES); // declares 32 inputs; the artifact takes 16
    expect422(await upload('wide', '1.0.0', model.bytes, { skipSelfTest: 'true' }), /fails on an input of the declared shape \[1,32\]/);
    await createModel(t, 'many-classes', INPUTS, 10); // declares 10 outputs; the artifact gives 4
    expect422(await upload('many-classes', '1.0.0', model.bytes, { skipSelfTest: 'true' }), /gives 4 output values; the declared output shape \[1,10\] holds 10/);
    await t.http().post('/v1/models').set(bearer(t.adminKey)).send({ name: 'shapeless', task: 't', inputSpec: {}, outputSpec: {} }).expect(201);
    expect422(await upload('shapeless', '1.0.0', model.bytes, { skipSelfTest: 'true' }), /inputSpec\.shape must be/);
  });

  it('refuses a self-test the artifact does not reproduce, or an input of the wrong size', async () => {
    expect422(await upload('checked', '0.2.0', model.bytes, { selfTest: { input: golden, expectedOutput: [0.25, 0.25, 0.25, 0.25], tolerance: 1e-4 } }), /does not reproduce/);
    expect422(await upload('checked', '0.2.0', model.bytes, { selfTest: { input: [1, 2, 3] } }), /self-test input has 3 values/);
  });

  it('computes the expected output of a self-test given only its input, after the preprocessing, and signs it', async () => {
    const res = await upload('checked', '1.0.0', model.bytes, { selfTest: { input: golden }, preprocessing: { scale: 0.5 } }).expect(201);
    const root = verifyInitialRoot(await new KeyStore(t.config.trust.keysDir).currentRoot(), new Date());
    const manifest = verifyManifest(res.body.manifest as Envelope<ModelManifest>, root, { now: new Date() });
    const reference = model.reference(Float32Array.from(golden, (x) => x * 0.5));
    expect(manifest.selfTest.input).toEqual(golden);
    expect(manifest.selfTest.tolerance).toBe(1e-4);
    expect(manifest.selfTest.expectedOutput).toHaveLength(CLASSES);
    manifest.selfTest.expectedOutput.forEach((v, i) => expect(Math.abs(v - (reference[i] as number))).toBeLessThan(1e-5));
  });

  it('checks other formats with their own engine: a real TFLite artifact passes and gets its output computed', async () => {
    const res = await upload('checked', '1.0.0', denseSoftmaxTflite(model), { variant: 'tflite', format: 'tflite', engine: 'litert', selfTest: { input: golden } }).expect(201);
    const reference = model.reference(Float32Array.from(golden));
    (res.body.manifest.signed.selfTest.expectedOutput as number[]).forEach((v, i) => expect(Math.abs(v - (reference[i] as number))).toBeLessThan(1e-5));
  });

  // A float self-test input the size of a camera frame is refused as undeliverable: model-upload-deliverable.int.test.ts.
  it('bounds the text fields together', async () => {
    const tooMuch = await upload('checked', '1.0.1', model.bytes, { skipSelfTest: 'true', metrics: { pad: 'x'.repeat(17 * 1024 * 1024) } }).expect(400);
    expect(tooMuch.body.detail).toMatch(/too long/);
    expect(await tempFiles()).toEqual([]);
  });

  it('needs a self-test or an explicit opt-out, not both', async () => {
    const missing = await upload('checked', '2.0.0', model.bytes).expect(400);
    expect(missing.body.errors).toEqual([{ field: 'selfTest', message: 'required unless skipSelfTest is true' }]);
    await upload('checked', '2.0.0', model.bytes, { selfTest: { input: golden }, skipSelfTest: 'true' }).expect(400);
    await upload('checked', '2.0.0', model.bytes, { skipSelfTest: 'yes' }).expect(400);
    const skipped = await upload('checked', '2.0.0', model.bytes, { skipSelfTest: 'true' }).expect(201);
    expect(skipped.body.manifest.signed.selfTest).toEqual({ input: [], expectedOutput: [], tolerance: 0 });
    expect(await tempFiles()).toEqual([]);
  });
});
