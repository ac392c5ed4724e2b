import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { toTfjsBundle } from '#inference';
import { ArtifactChecker } from '../../apps/control-plane/src/models/artifact-checker.js';
import { createModel } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

const SIDE = 128;
const CLASSES = 4;

/**
 * Six 128-filter 3×3 convolutions on a 128×128×3 input: tens of GFLOP on TF.js's pure-JS CPU backend,
 * all of it synchronous. Far past the 15 s bound below on any machine (the 64×64 version of this model
 * kept the control plane's event loop busy for 5 s when the check ran in its own process).
 */
async function slowTfjsBundle(): Promise<Buffer> {
  const tf = await import('@tensorflow/tfjs');
  tf.enableProdMode(); // no console advice about tfjs-node
  await tf.setBackend('cpu');
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [SIDE, SIDE, 3], filters: 128, kernelSize: 3, padding: 'same', activation: 'relu' }));
  for (let i = 0; i < 5; i++) model.add(tf.layers.conv2d({ filters: 128, kernelSize: 3, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.globalAveragePooling2d({}));
  model.add(tf.layers.dense({ units: CLASSES, activation: 'softmax' }));
  try {
    return await toTfjsBundle(model);
  } finally {
    model.dispose();
  }
}

/**
 * The upload check runs untrusted models in a child process: one that runs past the bound is killed
 * and refused with 422, and the control plane keeps answering meanwhile.
 */
describe('an upload check that runs past its time bound', () => {
  let t: TestApp;
  let slow: Buffer;

  const upload = (name: string, version: string, bytes: Buffer, fields: Record<string, string>) => {
    const req = t.http().post(`/v1/models/${name}/versions`).set(bearer(t.adminKey)).field('version', version).field('variant', 'fp32');
    for (const [k, v] of Object.entries(fields)) req.field(k, v);
    return req.attach('artifact', bytes, 'model.bin');
  };

  beforeAll(async () => {
    // The bound also covers the quick model's check below: a child that starts Node and ONNX Runtime
    // takes seconds on a loaded 2-core machine, so the bound leaves room for that.
    t = await startTestApp({ ARTIFACT_CHECK_TIMEOUT_MS: '15000' });
    slow = await slowTfjsBundle();
    await t
      .http()
      .post('/v1/models')
      .set(bearer(t.adminKey))
      .send({ name: 'slow', task: 'classification', inputSpec: { shape: [1, SIDE, SIDE, 3] }, outputSpec: { shape: [1, CLASSES] } })
      .expect(201);
    await createModel(t, 'quick', 16, CLASSES);
  });
  afterAll(() => t.close());

  it('is killed and refused with 422 naming the bound, while /health answers; the next check then runs', async () => {
    const checker = t.app.get(ArtifactChecker);
    const started = once(checker.events, 'started') as Promise<[number]>;
    let checkEnded = false;
    checker.events.once('exited', () => (checkEnded = true));
    // `.then` sends the request now (a supertest request starts only once awaited).
    const refused = upload('slow', '1.0.0', slow, { format: 'tfjs', engine: 'tfjs', skipSelfTest: 'true' }).then((res) => res);
    const [pid] = await started;

    const health = await t.http().get('/health');
    expect(health.status).toBe(200);
    // Answered while the check still ran (in-process, /health waited for the whole check: ~55 s here).
    expect(checkEnded).toBe(false);
    await once(checker.events, 'exited');

    const res = await refused;
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toMatch(/the model check exceeded 15 s/);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' })); // the child is gone
    const versions = await t.http().get('/v1/models/slow/versions').set(bearer(t.adminKey)).expect(200);
    expect(versions.body).toEqual([]);

    // The queue moved on: a real model uploaded next is checked and signed.
    await upload('quick', '1.0.0', Buffer.from(denseSoftmaxModel(3, 16, CLASSES).bytes), { format: 'onnx', engine: 'onnxruntime', skipSelfTest: 'true' }).expect(201);
  });
});

describe('an upload check that runs out of memory', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ARTIFACT_CHECK_MAX_HEAP_MB: '64' });
    await createModel(t, 'bloated', 16, CLASSES);
  });
  afterAll(() => t.close());

  it('is refused with 422 naming the memory limit, and the control plane keeps serving', async () => {
    // A TF.js bundle is read and parsed as one string: 96 MB of it cannot fit a 64 MB heap.
    const head = Buffer.from('{"format":"edgefleet-tfjs-v1","modelTopology":{},"weightSpecs":[],"weightData":"');
    const bundle = Buffer.concat([head, Buffer.alloc(96 * 1024 * 1024, 'A'), Buffer.from('"}')]);
    const res = await t
      .http()
      .post('/v1/models/bloated/versions')
      .set(bearer(t.adminKey))
      .field('version', '1.0.0')
      .field('variant', 'fp32')
      .field('format', 'tfjs')
      .field('engine', 'tfjs')
      .field('skipSelfTest', 'true')
      .attach('artifact', bundle, 'model.bin');
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toMatch(/the model check ran out of memory \(heap limit 64 MB\)/);
    await t.http().get('/health').expect(200);
  });
});
