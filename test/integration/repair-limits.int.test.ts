import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CHUNK_HEADER_BYTES, envelopeFields, type FleetTopics, fleetTopics } from '#protocol';
import { type RootDocument, verifyInitialRoot } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { waitFor } from '../helpers/agent-process.js';
import { chunkPublishes, repairOutcomes } from '../helpers/chunk-metrics.js';
import { createModel, deploy, enrolNodes, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedNode } from '../helpers/simulated-node.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/** 2 MiB: 16 chunks of 128 KiB (the last one a little short). */
const ARTIFACT_BYTES = 2 * 1024 * 1024 - 4096;
const BURST = 10;
const MULTIPLE = 2;
/** Longer than the 60-request burst takes to handle, short enough for the cap phase to run in seconds. */
const RESEND_WINDOW_MS = 3000;

/** Counts the repair chunks (messages and payload bytes) the broker delivers to one node. */
function countRepairs(node: SimulatedNode, topics: FleetTopics): { messages: number; bytes: number } {
  const counter = { messages: 0, bytes: 0 };
  const prefix = `${topics.repairChunks(node.nodeId).slice(0, -'+/+'.length)}`;
  node.client.on('message', (topic, payload) => {
    if (!topic.startsWith(prefix)) return;
    counter.messages++;
    counter.bytes += payload.length;
  });
  return counter;
}

const total = (outcomes: Record<string, number>) => Object.values(outcomes).reduce((a, b) => a + b, 0);

/**
 * One node floods the control plane with repair requests for the same and overlapping chunks (hole 5 of
 * issue 11: 60 requests used to give 480 chunk publishes). Repairs are de-duplicated per node and
 * artifact, rate-limited per node and capped in bytes per node and deployment; another node's repairs
 * go through untouched. Two replicas split the node traffic (one shared subscription): the limits hold
 * for the pair, not for each.
 */
describe('repair requests are merged, rate-limited and capped per node', () => {
  let broker: TestBroker;
  let t: TestApp;
  let replica: TestApp;
  let topics: FleetTopics;
  let flooder: SimulatedNode;
  let honest: SimulatedNode;
  let chunkCount: number;
  let size: number;
  let flooderRepairs: { messages: number; bytes: number };
  let honestRepairs: { messages: number; bytes: number };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({
      MQTT_URL: broker.url,
      REPAIR_REQUEST_BURST: String(BURST),
      REPAIR_REQUESTS_PER_MINUTE: '120',
      REPAIR_RESEND_WINDOW_MS: String(RESEND_WINDOW_MS),
      REPAIR_MAX_ARTIFACT_MULTIPLE: String(MULTIPLE),
    });
    const { database, trust, mqtt, artifacts, rollouts } = t.config;
    replica = await startTestApp({
      MQTT_URL: broker.url,
      DATABASE_URL: database.url,
      KEYS_DIR: trust.keysDir,
      ARTIFACT_DIR: artifacts.dir,
      MQTT_SHARED_GROUP: mqtt.sharedGroup,
      QUEUE_PREFIX: rollouts.queuePrefix,
      REPAIR_REQUEST_BURST: String(BURST),
      REPAIR_REQUESTS_PER_MINUTE: '120',
      REPAIR_RESEND_WINDOW_MS: String(RESEND_WINDOW_MS),
      REPAIR_MAX_ARTIFACT_MULTIPLE: String(MULTIPLE),
    });
    topics = fleetTopics(mqtt.fleetNamespace);
    const root: RootDocument = verifyInitialRoot(await new KeyStore(t.config.trust.keysDir).currentRoot(), new Date());
    const [a, b] = await enrolNodes(t, 2, { fleet: 'repair' });
    const node = (nodeId: string) => new SimulatedNode({ brokerUrl: broker.url, namespace: t.config.mqtt.fleetNamespace, nodeId, root });
    flooder = node(a as string);
    honest = node(b as string);
    await Promise.all([flooder.connect(), honest.connect()]);

    await createModel(t, 'repair', 4, 2);
    const model = denseSoftmaxModel(1, 4, 2, { padBytes: ARTIFACT_BYTES - 4096 });
    const version = await uploadVersion(t, 'repair', { version: '1.0.0' }, model.bytes);
    await deploy(t, version.id, { selector: 'fleet=repair' });
    // Both nodes get the whole artifact by broadcast first: every repair below is one the node did not need.
    await Promise.all([flooder.verified, honest.verified]);
    chunkCount = flooder.download?.chunkCount ?? 0;
    size = model.bytes.length;
    expect(chunkCount).toBe(16);
    flooderRepairs = countRepairs(flooder, topics);
    honestRepairs = countRepairs(honest, topics);
  }, 120_000);

  /** Repair chunk publishes and request outcomes, summed over both replicas (each has its own /metrics). */
  const repairPublishes = async () => (await Promise.all([t, replica].map(chunkPublishes))).reduce((sum, p) => sum + p.repair, 0);
  const bothOutcomes = async () => {
    const sum: Record<string, number> = {};
    for (const outcomes of await Promise.all([t, replica].map(repairOutcomes))) for (const [k, n] of Object.entries(outcomes)) sum[k] = (sum[k] ?? 0) + n;
    return sum;
  };

  afterAll(async () => {
    await Promise.all([flooder?.disconnect(), honest?.disconnect()]);
    await replica?.close();
    await t?.close();
    await broker?.stop();
  });

  it('answers 60 requests for the same and overlapping chunks with each chunk at most once, and refuses the excess with an error event', async () => {
    const sha256 = flooder.download?.sha256 as string;
    const before = await repairPublishes();
    // Every third request asks for everything; the others for overlapping windows of five chunks.
    const requests = Array.from({ length: 60 }, (_, i) => ({
      ...envelopeFields(),
      sha256,
      missing: i % 3 === 0 ? ([[0, chunkCount - 1]] as [number, number][]) : ([[i % 12, (i % 12) + 4]] as [number, number][]),
    }));
    await Promise.all(requests.map((r) => flooder.publish('artifact-requests', r)));

    const outcomes = await waitFor(() => bothOutcomes(), (o) => total(o) >= 60, 30_000, 'all 60 repair requests handled').catch(async (error: unknown) => {
      console.log(`repair flood: 60 requests -> ${(await repairPublishes()) - before} chunk publishes, no outcome counted`);
      throw error;
    });
    const repairs = (await repairPublishes()) - before;
    console.log(`repair flood: 60 requests -> ${repairs} chunk publishes; outcomes ${JSON.stringify(outcomes)}`);
    // Both replicas answered part of the flood: the limits below are shared, not per replica.
    for (const app of [t, replica]) expect(total(await repairOutcomes(app))).toBeGreaterThan(0);
    // Within the resend window a chunk goes out once, however often and in whatever overlap it is asked for.
    expect(repairs).toBeLessThanOrEqual(chunkCount);
    // A burst of BURST requests passes (plus what the bucket refills meanwhile); the rest are refused.
    expect(outcomes['rate-limited'] ?? 0).toBeGreaterThanOrEqual(60 - BURST - 5);
    await waitFor(async () => flooder.errors.map((e) => e.code), (codes) => codes.includes('repair-rate-limited'), 10_000, 'a rate-limit error event');
    expect(flooder.errors.every((e) => e.code === 'repair-rate-limited')).toBe(true);
    await waitFor(async () => flooderRepairs.messages, (n) => n === repairs, 10_000, 'the repaired chunks delivered');
  }, 60_000);

  it("answers another node's repair request in full while the flooder is limited", async () => {
    const before = await bothOutcomes();
    await honest.publish('artifact-requests', { ...envelopeFields(), sha256: honest.download?.sha256 as string, missing: [[2, 5], [9, 9]] });
    await waitFor(async () => honestRepairs.messages, (n) => n >= 5, 10_000, "the honest node's 5 chunks");
    // The outcome is counted once the replica's last publish is acknowledged, which may be after the node has the chunks.
    const after = await waitFor(bothOutcomes, (o) => (o['answered'] ?? 0) > (before['answered'] ?? 0), 10_000, 'the answered repair counted');
    expect((after['answered'] ?? 0) - (before['answered'] ?? 0)).toBe(1);
    expect(honestRepairs.messages).toBe(5);
    expect(honest.errors).toEqual([]);
  }, 30_000);

  it('caps what one node can get by repair at a small multiple of the artifact, then tells it so', async () => {
    const sha256 = flooder.download?.sha256 as string;
    const before = await repairPublishes();
    const outcomesBefore = await bothOutcomes();
    // The node keeps asking for everything, at the pace the rate limit allows, until it is told it is over its cap.
    const every = [[0, chunkCount - 1]] as [number, number][];
    let sent = 0;
    await waitFor(
      async () => {
        sent++;
        await flooder.publish('artifact-requests', { ...envelopeFields(), sha256, missing: every });
        return flooder.errors.map((e) => e.code);
      },
      (codes) => codes.includes('repair-cap-exceeded'),
      6 * RESEND_WINDOW_MS + 10_000,
      'the repair cap error event',
    );
    await waitFor(async () => total(await bothOutcomes()) - total(outcomesBefore), (n) => n >= sent, 10_000, 'every request handled');
    const outcomes = await bothOutcomes();
    expect((outcomes['cap-exceeded'] ?? 0) + (outcomes['partial'] ?? 0)).toBeGreaterThanOrEqual(1);
    const published = await repairPublishes();
    await waitFor(async () => flooderRepairs.messages + honestRepairs.messages, (n) => n === published, 10_000, 'every repair chunk delivered');
    const data = flooderRepairs.bytes - flooderRepairs.messages * CHUNK_HEADER_BYTES;
    console.log(`repair cap: ${sent} more requests -> ${published - before} chunk publishes; flooder got ${flooderRepairs.messages} chunks, ${data} bytes (artifact ${size})`);
    // Everything the flooder was sent by repair for this deployment (the flood above included) stays within the cap...
    expect(data).toBeLessThanOrEqual(MULTIPLE * size);
    // ...which still lets at least one whole artifact through (a node that lost everything completes).
    expect(data).toBeGreaterThanOrEqual(size);
  }, 60_000);
});
