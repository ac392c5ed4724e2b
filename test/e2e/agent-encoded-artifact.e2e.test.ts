import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { chunkCount } from '#protocol';
import { ArtifactStore } from '../../apps/control-plane/src/artifacts/artifact-store.js';
import { FsArtifactStore } from '../../apps/control-plane/src/artifacts/fs-artifact-store.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { chunkPublishes } from '../helpers/chunk-metrics.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
const CHUNK = 1024;
const golden = Float32Array.from({ length: INPUTS }, (_, i) => (i % 5) / 5);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * A gzip-encoded artifact end to end (docs/protocol.md#artifact-encoding): the control plane stores and
 * chunks the encoded form, a real agent receives it over a real Mosquitto, verifies both signed digests,
 * decodes, stages and activates the model — across kill -9 at each step of that — and refuses tampered
 * encoded bytes before any slot is touched.
 */
describe('an encoded artifact on a real agent', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;
  /** A model whose large layer is 80% zeros, as the pruned seed CNN's are: it compresses. */
  const pruned = (seed: number) => denseSoftmaxModel(seed, INPUTS, 4, { padBytes: 64 * 1024, padDensity: 0.2 });

  const upload = (version: string, model = pruned(1)) =>
    uploadVersion(t, 'digits', { version, encoding: 'gzip', selfTest: { input: Array.from(golden), expectedOutput: Array.from(model.reference(golden)), tolerance: 1e-4 } }, model.bytes);
  const targetStates = async (deploymentId: string) => {
    const res = await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200);
    return (res.body.targets as { state: string | null; reason: string | null }[]).map((x) => `${x.state}${x.reason ? `:${x.reason}` : ''}`);
  };
  /** Every file of the agent's slots, with its digest and modification time: "untouched" means all equal. */
  const slotFiles = async () => {
    const root = join(agent.stateDir, 'state', 'slots');
    const files: Record<string, string> = {};
    for (const slot of await readdir(root)) {
      for (const name of await readdir(join(root, slot))) {
        const path = join(root, slot, name);
        files[`${slot}/${name}`] = `${sha256(await readFile(path))}@${(await stat(path)).mtimeMs}`;
      }
    }
    return files;
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50', CHUNK_SIZE_BYTES: String(CHUNK) });
    await createModel(t, 'digits', INPUTS, 4);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'encoded' } });
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name: 'encoded-0', soak: { inferences: 1, seconds: 2 } });
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  it('chunks only the encoded form, and the agent activates the decoded model it signs', async () => {
    const model = pruned(1);
    const version = await upload('1.0.0', model);
    // The response names both forms; the stored encoded blob is the gzip of the model, and smaller.
    expect(version.sha256).toBe(sha256(model.bytes));
    const wire = version.wire;
    if (!wire) throw new Error('no wire form in the upload response');
    expect(wire.encoding).toBe('gzip');
    expect(wire.sizeBytes).toBeLessThan(model.bytes.length * 0.6);
    const download = await t.http().get(`/v1/artifacts/${wire.sha256}`).set(bearer(t.adminKey)).buffer(true).parse((res, cb) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => cb(null, Buffer.concat(parts)));
    }).expect(200);
    expect(gunzipSync(download.body as Buffer).equals(model.bytes)).toBe(true);

    const before = await chunkPublishes(t);
    const deployment = await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256, 30_000, 'decoded model active');
    await agent.infer(Array.from(golden));
    await waitFor(() => targetStates(deployment.id), (s) => s.every((x) => x === 'committed'), 30_000, 'committed');
    const body = (await (await agent.infer(Array.from(golden))).json()) as { output: number[] };
    body.output.forEach((v, i) => expect(Math.abs(v - (model.reference(golden)[i] as number))).toBeLessThan(1e-5));
    // What travelled: the encoded form's chunks (broadcast plus any repairs), never the model's count.
    const after = await chunkPublishes(t);
    const sent = after.broadcast - before.broadcast;
    expect(sent).toBe(chunkCount(wire.sizeBytes, CHUNK));
    expect(sent).toBeLessThan(chunkCount(model.bytes.length, CHUNK) * 0.6);
  });

  it('survives kill -9 while decoding, after verifying and while staging the decoded model', async () => {
    const model = pruned(2);
    const version = await upload('1.1.0', model);
    for (const point of ['verify:decoded', 'verify:done', 'stage:copied']) {
      await agent.kill();
      await agent.restart([point]);
      if (point === 'verify:decoded') await deploy(t, version.id, { nodeIds: [agent.nodeId] });
      await agent.exited().catch((error: unknown) => {
        throw new Error(`the agent did not reach ${point}; its last log lines:\n${agent.logs.slice(-30).join('\n')}`, { cause: error });
      });
    }
    await agent.restart();
    await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256, 30_000, 'decoded model active after the crashes');
    await agent.infer(Array.from(golden));
    await waitFor(() => agent.status(), (s) => s.phase === 'idle', 30_000, 'committed');
  });

  it('refuses tampered encoded bytes before any slot is touched; the model serving keeps serving', async () => {
    const serving = (await agent.status()).model;
    const slotsBefore = await slotFiles();
    const version = await upload('1.2.0', pruned(3));
    const store = t.app.get(ArtifactStore);
    if (!(store instanceof FsArtifactStore)) throw new Error('this test tampers with the fs store');
    const wireSha = version.wire?.sha256 as string;
    const path = store.pathFor(wireSha);
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] as number) ^ 0xff;
    await writeFile(path, bytes);
    const deployment = await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    await waitFor(() => targetStates(deployment.id), (s) => s.every((x) => x === 'rolled-back:hash-mismatch'), 30_000, 'refused');
    expect((await agent.status()).model).toEqual(serving);
    expect((await agent.infer(Array.from(golden))).status).toBe(200);
    expect(await slotFiles()).toEqual(slotsBefore);
  });
});
