import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import type { Response as SuperagentResponse } from 'superagent';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeChunk, envelopeFields, fleetTopics } from '#protocol';
import { verifyInitialRoot } from '#trust';
import { createArtifactStore } from '../../apps/control-plane/src/artifacts/artifact-store.factory.js';
import { loadConfig } from '../../apps/control-plane/src/config/config.js';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { waitFor } from '../helpers/agent-process.js';
import { chunkPublishes } from '../helpers/chunk-metrics.js';
import { createModel, deploy, enrolNodes, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { cutUpload, multipartBody } from '../helpers/raw-http.js';
import { SimulatedNode } from '../helpers/simulated-node.js';
import { bearer, type TestApp, startTestApp } from '../helpers/test-app.js';
import { startTestS3, type TestS3 } from '../helpers/test-s3.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** supertest parser that keeps a binary body as a Buffer (in Node, superagent hands it the raw stream). */
function binary(res: SuperagentResponse, done: (err: Error | null, body: Buffer) => void) {
  const stream = res as unknown as NodeJS.ReadableStream;
  const parts: Buffer[] = [];
  stream.on('data', (part: Buffer) => parts.push(part));
  stream.on('end', () => done(null, Buffer.concat(parts)));
}
const CHUNK = 128 * 1024;

/**
 * The control plane with ARTIFACT_STORE=s3 against a local S3-compatible server: uploads go to the bucket
 * (by multipart upload: the artifact is larger than a part), the upload check loads a local copy,
 * downloads honour Range, and chunks reach nodes by broadcast and by repair from the bucket. Nothing of
 * the artifact is on the control plane's disk, so every byte a node gets came from S3.
 */
describe('the control plane on an S3 artifact store', () => {
  let s3: TestS3;
  let t: TestApp;
  let prefix: string;
  // A real model padded past one 8 MiB multipart part.
  const model = denseSoftmaxModel(7, 4, 2, { padBytes: 9 * 1024 * 1024 });
  let version: { id: string; sha256: string };

  const localFiles = async () => {
    const dir = t.config.artifacts.dir;
    return [...(await readdir(join(dir, 'tmp')).catch(() => [] as string[])), ...(await readdir(join(dir, 'sha256')).catch(() => [] as string[]))];
  };

  beforeAll(async () => {
    s3 = await startTestS3();
    prefix = `cp-${randomBytes(4).toString('hex')}/`;
    t = await startTestApp({ ...s3.env(prefix), ARTIFACT_MAX_BYTES: String(32 * 1024 * 1024) });
    await createModel(t, 'on-s3', 4, 2);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await s3?.stop();
  });

  it('refuses to start on a bucket that is not there, naming it', async () => {
    const config = loadConfig({ ...s3.env(), S3_BUCKET: 'no-such-bucket' });
    const store = createArtifactStore(config.artifacts);
    await expect(store.verifyReachable()).rejects.toThrow("bucket 'no-such-bucket' is not reachable");
    await store.close();
  });

  it('streams an upload into the bucket, checks it with its engine, and serves it whole and by Range', async () => {
    version = await uploadVersion(t, 'on-s3', { version: '1.0.0', selfTest: { input: [0.1, 0.2, 0.3, 0.4] } }, model.bytes);
    expect(version.sha256).toBe(sha256(model.bytes));
    expect(await s3.keys(prefix)).toEqual([`${prefix}sha256/${version.sha256.slice(0, 2)}/${version.sha256}`]);
    expect(await s3.pendingMultipartUploads()).toEqual([]);
    expect(await localFiles()).toEqual([]);

    const url = `/v1/artifacts/${version.sha256}`;
    const whole = await t.http().get(url).set(bearer(t.adminKey)).buffer(true).parse(binary).expect(200);
    expect(sha256(whole.body as Buffer)).toBe(version.sha256);
    expect(whole.headers['etag']).toBe(`"${version.sha256}"`);
    const start = 5 * 1024 * 1024 - 10;
    const part = await t.http().get(url).set(bearer(t.adminKey)).set('Range', `bytes=${start}-${start + 99}`).buffer(true).parse(binary).expect(206);
    expect(part.headers['content-range']).toBe(`bytes ${start}-${start + 99}/${model.bytes.length}`);
    expect((part.body as Buffer).equals(model.bytes.subarray(start, start + 100))).toBe(true);
    await t.http().get(url).set(bearer(t.adminKey)).set('Range', `bytes=${model.bytes.length}-`).expect(416);
    await t.http().get(url).set(bearer(t.adminKey)).set('If-None-Match', `"${version.sha256}"`).expect(304);
    await t.http().get(`/v1/artifacts/${sha256(Buffer.from('absent'))}`).set(bearer(t.adminKey)).expect(404);
  }, 60_000);

  it('refuses an artifact its engine cannot load (422) and keeps nothing of it, in the bucket or on disk', async () => {
    const before = await s3.keys(prefix);
    const res = await t
      .http()
      .post('/v1/models/on-s3/versions')
      .set(bearer(t.adminKey))
      .field('version', '2.0.0')
      .field('variant', 'fp32')
      .field('format', 'onnx')
      .field('engine', 'onnxruntime')
      .field('selfTest', JSON.stringify({ input: [1, 2, 3, 4] }))
      .attach('artifact', randomBytes(6 * 1024 * 1024), 'garbage.onnx')
      .expect(422);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(await s3.keys(prefix)).toEqual(before);
    expect(await s3.pendingMultipartUploads()).toEqual([]);
    expect(await localFiles()).toEqual([]);
  }, 60_000);

  it('keeps nothing of an upload whose client went away after its multipart upload began', async () => {
    const before = await s3.keys(prefix);
    const boundary = 'cut-boundary';
    const fields = { version: '3.0.0', variant: 'fp32', format: 'onnx', engine: 'onnxruntime', skipSelfTest: 'true' };
    const fileBytes = 20 * 1024 * 1024;
    // 10 MiB of the file: more than one 8 MiB part, so the part has been sent when the client goes.
    const body = multipartBody(boundary, fields, { name: 'artifact', bytes: randomBytes(10 * 1024 * 1024) }, true);
    await cutUpload(
      t.url,
      { path: '/v1/models/on-s3/versions', headers: { Authorization: `Bearer ${t.adminKey}`, 'Content-Type': `multipart/form-data; boundary=${boundary}` }, declaredBytes: body.length + fileBytes, bytes: body },
      async () => (await s3.pendingMultipartUploads()).length > 0,
      (probe) => waitFor(probe, (begun) => begun, 20_000, 'a multipart upload begun'),
    );
    const leftovers = async () => ({ keys: await s3.keys(prefix), uploads: await s3.pendingMultipartUploads(), local: await localFiles() });
    const left = await waitFor(leftovers, (l) => l.uploads.length === 0 && l.keys.length === before.length, 10_000, 'the multipart upload aborted').catch(() => undefined);
    expect(left ?? (await leftovers())).toEqual({ keys: before, uploads: [], local: [] });
  }, 60_000);

  it('broadcasts the chunks from the bucket and answers a repair request over MQTT from it', async () => {
    const root = verifyInitialRoot(await new KeyStore(t.config.trust.keysDir).currentRoot(), new Date());
    const [nodeId] = await enrolNodes(t, 1, { fleet: 's3-store' });
    const node = new SimulatedNode({ brokerUrl: t.config.mqtt.url, namespace: t.config.mqtt.fleetNamespace, nodeId: nodeId as string, root });
    await node.connect();
    try {
      await deploy(t, version.id, { selector: 'fleet=s3-store' });
      // `verified` waits for the desired state too, which may arrive after deploy() answers.
      expect(sha256(await node.verified)).toBe(version.sha256);

      const repaired = new Map<number, Buffer>();
      const repairTopics = fleetTopics(t.config.mqtt.fleetNamespace);
      node.client.on('message', (topic, payload) => {
        const parsed = repairTopics.parseChunk(topic);
        if (parsed && topic.startsWith(repairTopics.repairChunks(node.nodeId).slice(0, -'+/+'.length))) {
          const chunk = decodeChunk(payload);
          repaired.set(chunk.index, Buffer.from(chunk.data));
        }
      });
      const before = (await chunkPublishes(t)).repair;
      await node.publish('artifact-requests', { ...envelopeFields(), sha256: version.sha256, missing: [[1, 2], [70, 70]] });
      await waitFor(async () => repaired.size, (n) => n >= 3, 15_000, 'three repair chunks');
      expect([...repaired.keys()].sort((a, b) => a - b)).toEqual([1, 2, 70]);
      for (const [index, data] of repaired) expect(data.equals(model.bytes.subarray(index * CHUNK, (index + 1) * CHUNK))).toBe(true);
      expect((await chunkPublishes(t)).repair - before).toBe(3);
    } finally {
      await node.disconnect();
    }
  }, 60_000);

  it('stores an encoded upload as a second blob in the bucket, serves it, and answers repairs from it', async () => {
    const sparse = denseSoftmaxModel(8, 4, 2, { padBytes: 2 * 1024 * 1024, padDensity: 0.2 });
    const encoded = await uploadVersion(t, 'on-s3', { version: '4.0.0', encoding: 'gzip', selfTest: { input: [0.1, 0.2, 0.3, 0.4] } }, sparse.bytes);
    const wire = encoded.wire;
    if (!wire) throw new Error('no wire form in the upload response');
    const keys = await s3.keys(prefix);
    for (const digest of [encoded.sha256, wire.sha256]) expect(keys).toContain(`${prefix}sha256/${digest.slice(0, 2)}/${digest}`);
    const wireBytes = (await t.http().get(`/v1/artifacts/${wire.sha256}`).set(bearer(t.adminKey)).buffer(true).parse(binary).expect(200)).body as Buffer;
    expect(wireBytes.length).toBe(wire.sizeBytes);
    expect(gunzipSync(wireBytes).equals(sparse.bytes)).toBe(true);

    const [nodeId] = await enrolNodes(t, 1, { fleet: 's3-encoded' });
    const root = verifyInitialRoot(await new KeyStore(t.config.trust.keysDir).currentRoot(), new Date());
    const node = new SimulatedNode({ brokerUrl: t.config.mqtt.url, namespace: t.config.mqtt.fleetNamespace, nodeId: nodeId as string, root });
    await node.connect();
    try {
      const topics = fleetTopics(t.config.mqtt.fleetNamespace);
      const repaired = new Map<string, Buffer>();
      node.client.on('message', (topic, payload) => {
        const parsed = topics.parseChunk(topic);
        if (parsed && topic.startsWith(topics.repairChunks(node.nodeId).slice(0, -'+/+'.length))) repaired.set(`${parsed.sha256}:${decodeChunk(payload).index}`, Buffer.from(decodeChunk(payload).data));
      });
      await deploy(t, encoded.id, { selector: 'fleet=s3-encoded' });
      // The encoded digest is what is assigned to the node, so that is what a repair names.
      await node.publish('artifact-requests', { ...envelopeFields(), sha256: wire.sha256, missing: [[0, 1]] });
      await waitFor(async () => repaired.size, (n) => n >= 2, 15_000, 'two repair chunks of the encoded form');
      expect(repaired.get(`${wire.sha256}:0`)?.equals(wireBytes.subarray(0, CHUNK))).toBe(true);
      expect(repaired.get(`${wire.sha256}:1`)?.equals(wireBytes.subarray(CHUNK, 2 * CHUNK))).toBe(true);
    } finally {
      await node.disconnect();
    }
  }, 60_000);
});
