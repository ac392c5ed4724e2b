import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Response as SuperagentResponse } from 'superagent';
import { type Envelope, type ModelManifest, verifyInitialRoot, verifyManifest } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createApiKey, startTestApp, type TestApp } from '../helpers/test-app.js';

const MAX_BYTES = 1024 * 1024;
const PIXELS = 784;
/** A real ONNX classifier of the declared shapes, padded to about `bytes` to exercise the store. */
const realModel = (seed: number, bytes = 0) => denseSoftmaxModel(seed, PIXELS, 10, { padBytes: bytes }).bytes;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('models, versions and artifacts', () => {
  let t: TestApp;
  let operator: string;
  let viewer: string;

  beforeAll(async () => {
    t = await startTestApp({ ARTIFACT_MAX_BYTES: String(MAX_BYTES) });
    operator = await createApiKey(t, 'operator');
    viewer = await createApiKey(t, 'viewer');
    await t
      .http()
      .post('/v1/models')
      .set(bearer(operator))
      .send({
        name: 'digits',
        task: 'image-classification',
        description: 'MNIST CNN',
        inputSpec: { name: 'input', shape: [1, PIXELS], dtype: 'float32' },
        outputSpec: { name: 'probabilities', shape: [1, 10], dtype: 'float32' },
        classLabels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      })
      .expect(201);
  });
  afterAll(() => t.close());

  const upload = (version: string, variant: string, bytes: Buffer, extra: Record<string, string> = {}) => {
    const req = t.http().post('/v1/models/digits/versions').set(bearer(operator));
    // Uploads are loaded and run at upload (issue 10, trap 7): real models, and an explicit self-test opt-out.
    const fields = { version, variant, format: 'onnx', engine: 'onnxruntime', ...(extra['selfTest'] ? {} : { skipSelfTest: 'true' }), ...extra };
    for (const [k, v] of Object.entries(fields)) req.field(k, v);
    return req.attach('artifact', bytes, 'model.onnx');
  };
  const storedFiles = async () => {
    const root = join(t.config.artifacts.dir, 'sha256');
    const dirs = await readdir(root).catch(() => [] as string[]);
    return (await Promise.all(dirs.map((d) => readdir(join(root, d))))).flat();
  };
  const tempFiles = () => readdir(join(t.config.artifacts.dir, 'tmp')).catch(() => [] as string[]);

  it('streams an upload to the store and serves it back whole and by range, with the same sha256', async () => {
    const bytes = realModel(1, 300_000);
    const res = await upload('1.0.0', 'fp32', bytes, { metrics: JSON.stringify({ accuracy: 0.984 }) }).expect(201);
    expect(res.body).toMatchObject({ model: 'digits', version: '1.0.0', variant: 'fp32', sha256: sha256(bytes), sizeBytes: bytes.length, metrics: { accuracy: 0.984 } });

    const whole = await t.http().get(res.body.downloadUrl).set(bearer(viewer)).buffer(true).parse(binary).expect(200);
    expect(sha256(whole.body as Buffer)).toBe(sha256(bytes));
    expect(whole.headers['accept-ranges']).toBe('bytes');
    expect(whole.headers['etag']).toBe(`"${sha256(bytes)}"`);

    // Resume a download in three ranges and check the reassembled digest.
    const parts: Buffer[] = [];
    const third = Math.ceil(bytes.length / 3);
    for (const [start, end] of [[0, third - 1], [third, 2 * third - 1], [2 * third, bytes.length - 1]]) {
      const part = await t.http().get(res.body.downloadUrl).set(bearer(viewer)).set('Range', `bytes=${start}-${end}`).buffer(true).parse(binary).expect(206);
      expect(part.headers['content-range']).toBe(`bytes ${start}-${end}/${bytes.length}`);
      parts.push(part.body as Buffer);
    }
    expect(sha256(Buffer.concat(parts))).toBe(sha256(bytes));
    await t.http().get(res.body.downloadUrl).set(bearer(viewer)).set('Range', `bytes=${bytes.length + 1000}-`).expect(416);
  });

  it('stores identical content once and lets two versions share it', async () => {
    const bytes = realModel(2, 50_000);
    const before = (await storedFiles()).length;
    const a = await upload('1.1.0', 'fp32', bytes).expect(201);
    const b = await upload('1.1.0', 'int8', bytes).expect(201);
    expect(a.body.sha256).toBe(b.body.sha256);
    expect((await storedFiles()).length).toBe(before + 1);
    const [row] = (await t.db.query('SELECT count(*)::int AS n FROM artifacts WHERE sha256 = $1', [a.body.sha256])) as { n: number }[];
    expect(row?.n).toBe(1);
    expect(await tempFiles()).toEqual([]);
  });

  it('refuses an upload over the size limit without leaving a partial file', async () => {
    const before = await storedFiles();
    const res = await upload('2.0.0', 'fp32', randomBytes(MAX_BYTES + 4096)).expect(413);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(await storedFiles()).toEqual(before);
    expect(await tempFiles()).toEqual([]);
    await t.http().get('/v1/models/digits/versions/2.0.0').set(bearer(viewer)).expect(200, []);
  });

  it('validates the upload fields and discards the file when they are wrong', async () => {
    const res = await upload('not-semver', 'fp32', randomBytes(1000), { engine: 'tfjs', extra: 'x' }).expect(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['extra', 'version']);
    await upload('3.0.0', 'fp32', randomBytes(1000), { engine: 'tfjs' }).expect(400); // onnx needs onnxruntime
    await t.http().post('/v1/models/digits/versions').set(bearer(operator)).send({ version: '3.0.0' }).expect(400); // not multipart
    expect(await tempFiles()).toEqual([]);
  });

  it('refuses a duplicate version variant (409) and an unknown model (404)', async () => {
    await upload('1.0.0', 'fp32', realModel(3)).expect(409);
    await t.http().post('/v1/models/nope/versions').set(bearer(operator)).field('version', '1.0.0').attach('artifact', Buffer.from('x'), 'm').expect(404);
  });

  it('signs each version into a manifest the pinned root verifies; an upload draws no sequence (0 until deployed)', async () => {
    const root = verifyInitialRoot(await new KeyStore(t.config.trust.keysDir).currentRoot(), new Date());
    const res = await t.http().get('/v1/models/digits/versions').set(bearer(viewer)).expect(200);
    const byKey = new Map((res.body as { version: string; variant: string; sequence: number; manifest: Envelope<ModelManifest>; sha256: string }[]).map((v) => [`${v.version}/${v.variant}`, v]));
    expect([...byKey.entries()].map(([k, v]) => [k, v.sequence])).toEqual(
      expect.arrayContaining([['1.0.0/fp32', 0], ['1.1.0/fp32', 0], ['1.1.0/int8', 0]]),
    );
    for (const v of byKey.values()) {
      const manifest = verifyManifest(v.manifest, root, { now: new Date() });
      expect(manifest).toMatchObject({ name: 'digits', version: v.version, variant: v.variant, sha256: v.sha256, sequence: v.sequence, labels: expect.any(Array) });
    }
    const withSelfTest = denseSoftmaxModel(4, PIXELS, 10);
    const golden = Array.from({ length: PIXELS }, (_, i) => i % 2);
    const expectedOutput = Array.from(withSelfTest.reference(Float32Array.from(golden, (x) => x * 0.5)));
    const sizes = await t.http().post('/v1/models/digits/versions').set(bearer(operator))
      .field('version', '1.2.0').field('variant', 'fp32').field('format', 'onnx').field('engine', 'onnxruntime')
      .field('selfTest', JSON.stringify({ input: golden, expectedOutput, tolerance: 0.001 }))
      .field('preprocessing', JSON.stringify({ scale: 0.5 }))
      .attach('artifact', withSelfTest.bytes, 'm.onnx').expect(201);
    expect(sizes.body.manifest.signed).toMatchObject({ sequence: 0, selfTest: { input: golden, expectedOutput, tolerance: 0.001 }, preprocessing: { scale: 0.5 } });
    await t.http().delete('/v1/models/digits/versions/1.2.0').set(bearer(operator)).expect(204);
  });

  it('lists versions newest first', async () => {
    const res = await t.http().get('/v1/models/digits/versions').set(bearer(viewer)).expect(200);
    expect(res.body.map((v: { version: string; variant: string }) => `${v.version}/${v.variant}`)).toEqual(['1.1.0/fp32', '1.1.0/int8', '1.0.0/fp32']);
  });

  it('will not delete a version still running on a node, and deletes it once none runs it', async () => {
    await upload('0.9.0', 'fp32', realModel(5)).expect(201);
    const [version] = (await t.db.query(`SELECT id FROM model_versions WHERE version = '0.9.0'`)) as { id: string }[];
    await t.db.query(
      `INSERT INTO nodes (node_key, name, hardware, current_model_version_id) VALUES ('runner-node', 'runner', '{}', $1)`,
      [version?.id],
    );
    const refused = await t.http().delete('/v1/models/digits/versions/0.9.0').set(bearer(operator)).expect(409);
    expect(refused.body.detail).toBe('digits 0.9.0 is still running on 1 node(s)');
    await t.db.query(`UPDATE nodes SET current_model_version_id = NULL WHERE node_key = 'runner-node'`);
    await t.http().delete('/v1/models/digits/versions/0.9.0').set(bearer(operator)).expect(204);
    await t.http().get('/v1/models/digits/versions/0.9.0').set(bearer(viewer)).expect(200, []);
  });
});

/** supertest parser that keeps a binary body as a Buffer (in Node, superagent hands it the raw stream). */
function binary(res: SuperagentResponse, done: (err: Error | null, body: Buffer) => void) {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}
