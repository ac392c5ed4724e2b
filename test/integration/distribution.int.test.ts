import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { verifyInitialRoot } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedNode } from '../helpers/simulated-node.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, createEnrollmentToken, hardware, startTestApp, type TestApp } from '../helpers/test-app.js';

const NODES = Number(process.env["DIST_NODES"] ?? 50);
const ARTIFACT_BYTES = Number(process.env["DIST_MIB"] ?? 20) * 1024 * 1024;
const CHUNKS = ARTIFACT_BYTES / (128 * 1024);
const DROP_AFTER = Math.floor(CHUNKS / 4);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('artifact distribution over the real broker', () => {
  let t: TestApp;
  let nodes: SimulatedNode[];
  // A real model (uploads are loaded at upload), padded to just under ARTIFACT_BYTES: CHUNKS chunks.
  const artifact = denseSoftmaxModel(1, 4, 2, { padBytes: ARTIFACT_BYTES - 4096 }).bytes;
  let versionId: string;
  let broker: TestBroker;

  beforeAll(async () => {
    // Its own broker with the repo's Mosquitto configuration: 1 GB of chunks stays out of other suites' way.
    broker = await startTestBroker();
    t = await startTestApp({ ARTIFACT_MAX_BYTES: String(64 * 1024 * 1024), MQTT_URL: broker.url });
    const root = verifyInitialRoot(await new KeyStore(t.config.trust.keysDir).currentRoot(), new Date());
    const { token } = await createEnrollmentToken(t, { maxUses: NODES + 5, labels: { fleet: 'broadcast-test' } });
    const ids: string[] = [];
    for (let i = 0; i < NODES; i++) {
      const res = await t.http().post('/v1/enroll').send({ token, nodeKey: `broadcast-node-${i}-${randomBytes(4).toString('hex')}`, hardware }).expect(200);
      ids.push(res.body.nodeId as string);
      // The enrolment answer carries the signed root the node pins.
      expect(verifyInitialRoot(res.body.root, new Date())).toEqual(root);
    }
    // Node 0 drops its connection a quarter of the way through the broadcast.
    nodes = ids.map((nodeId, i) => new SimulatedNode({ brokerUrl: broker.url, namespace: t.config.mqtt.fleetNamespace, nodeId, root, disconnectAfterChunk: i === 0 ? (n) => n === DROP_AFTER : undefined }));
    await Promise.all(nodes.map((n) => n.connect()));

    await t.http().post('/v1/models').set(bearer(t.adminKey)).send({ name: 'big', task: 'test', inputSpec: { shape: [1, 4] }, outputSpec: { shape: [1, 2] } }).expect(201);
    const up = await t
      .http()
      .post('/v1/models/big/versions')
      .set(bearer(t.adminKey))
      .field('version', '1.0.0')
      .field('variant', 'fp32')
      .field('format', 'onnx')
      .field('engine', 'onnxruntime')
      .field('skipSelfTest', 'true')
      .attach('artifact', artifact, 'big.onnx')
      .expect(201);
    versionId = up.body.id as string;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.disconnect()));
    await t.close();
    await broker.stop();
  });

  it('broadcasts a 20 MB artifact once to 50 nodes; a node that dropped out repairs only its missing chunks', async () => {
    const started = Date.now();
    const res = await t.http().post('/v1/deployments').set(bearer(t.adminKey)).send({ modelVersionId: versionId, selector: 'fleet=broadcast-test' }).expect(201);
    const { chunkCount, chunkPublishes, nodeCount } = res.body as { chunkCount: number; chunkPublishes: number; nodeCount: number };
    expect(nodeCount).toBe(NODES);
    expect(chunkCount).toBe(CHUNKS);
    // One publish per chunk for the whole batch, not one per node.
    expect(chunkPublishes).toBe(chunkCount);

    const healthy = nodes.slice(1);
    const results = await Promise.all(healthy.map((n) => n.verified));
    for (const bytes of results) expect(sha256(bytes)).toBe(sha256(artifact));
    const broadcastMs = Date.now() - started;

    // The dropped node comes back (its clean session lost whatever was published meanwhile)...
    const dropped = nodes[0]!;
    expect(dropped.download?.chunks.size).toBe(DROP_AFTER);
    await dropped.connect();
    const missing = await dropped.requestMissing();
    expect(missing).toBe(chunkCount - DROP_AFTER);
    expect(sha256(await dropped.verified)).toBe(sha256(artifact));
    expect(dropped.repairRequests).toBe(1);

    // ...and the control plane re-sent exactly the missing chunks, to that node only.
    const metrics = (await t.http().get('/metrics')).text;
    const published = (mode: string) => Number(new RegExp(`edgefleet_artifact_chunk_publishes_total\\{[^}]*mode="${mode}"[^}]*\\} (\\d+)`).exec(metrics)?.[1]);
    expect(published('broadcast')).toBe(chunkCount);
    expect(published('repair')).toBe(missing);
    console.log(
      `distribution: ${NODES} nodes x ${ARTIFACT_BYTES / 1024 / 1024} MiB; ${chunkCount} chunks; broadcast publishes ${published('broadcast')}, ` +
        `repair publishes ${published('repair')} (node missing ${missing}); all verified in ${broadcastMs} ms`,
    );

    // Every node reported 'verified' for the deployment.
    await t.app.get(TelemetryService).flush();
    const deadline = Date.now() + 10_000;
    let states: string[] = [];
    while (Date.now() < deadline) {
      await t.app.get(TelemetryService).flush();
      const detail = await t.http().get(`/v1/deployments/${res.body.id}`).set(bearer(t.adminKey)).expect(200);
      states = (detail.body.targets as { state: string }[]).map((x) => x.state);
      if (states.every((s) => s === 'verified')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(states.filter((s) => s === 'verified')).toHaveLength(NODES);
  }, 300_000);

  it('refuses a repair request for an artifact not deployed to the node', async () => {
    const node = nodes[1]!;
    const other = 'f'.repeat(64);
    await node.publish('artifact-requests', { v: 1, id: crypto.randomUUID(), ts: new Date().toISOString(), sha256: other, missing: [[0, 10]] });
    const deadline = Date.now() + 20_000;
    while (!node.errors.some((e) => e.code === 'not-assigned') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(node.errors.map((e) => e.code)).toContain('not-assigned');
  });
});
