/**
 * A rollout of a small artifact to N simulated nodes, one MQTT connection each (default 10,000), through
 * the real control plane: REST → BullMQ tick jobs → PostgreSQL → signed desired states and a chunk
 * broadcast over Mosquitto → nodes answer with statuses → the telemetry path → the next wave. Measures the
 * time from POST /start to the last node's activation and to the rollout reading `completed`.
 * Compared with AWS IoT Jobs' documented cap of 1,000 devices per minute (goal: >= 10x that rate), and
 * with a baseline measured in the same run on the same broker and clients: one raw message to every node
 * and one answer back (the floor any per-node protocol pays).
 *   npm run bench:build && node dist/bench/rollout-scale.js [nodes=10000] [waves=1,10,100]
 */
import 'reflect-metadata';
import mqtt, { type MqttClient } from 'mqtt';
import { decodeChunk, encodeMessage, envelopeFields, type FleetTopics, fleetTopics, parseMessage } from '../libs/protocol/src/index.js';
import { createModel, enrolNodes, getRollout, startRollout, uploadVersion } from '../test/helpers/fleet.js';
import { denseSoftmaxModel } from '../test/helpers/onnx-model.js';
import { startTestBroker } from '../test/helpers/test-broker.js';
import { startTestApp } from '../test/helpers/test-app.js';

const NODES = Number(process.argv[2] ?? 10_000);
const WAVES = (process.argv[3] ?? '1,10,100').split(',').map(Number);
const AWS_IOT_JOBS_MAX_PER_MINUTE = 1000;

/** One node: its own connection; commits a desired state once it holds every chunk of the artifact. */
class BenchNode {
  client!: MqttClient;
  activatedAt = 0;
  private readonly chunks = new Map<string, Set<number>>();
  private pending?: { deploymentId: string; sha256: string; chunkCount: number };
  private seq = 0;

  constructor(
    readonly id: string,
    private readonly topics: FleetTopics,
    private readonly onActivated: (node: BenchNode) => void,
  ) {}

  async connect(url: string): Promise<void> {
    this.client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `bench-${this.id}`, clean: true, reconnectPeriod: 0 });
    this.client.on('message', (topic, payload) => this.onMessage(topic, payload));
    await this.client.subscribeAsync([this.topics.desired(this.id), this.topics.allArtifactChunks, `raw/nodes/${this.id}`], { qos: 1 });
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic.startsWith('raw/')) {
      void this.client.publishAsync(`raw/replies/${this.id}`, payload, { qos: 1 });
      return;
    }
    const chunk = this.topics.parseChunk(topic);
    if (chunk) {
      const have = this.chunks.get(chunk.sha256) ?? new Set<number>();
      have.add(decodeChunk(payload).index);
      this.chunks.set(chunk.sha256, have);
    } else if (payload.length > 0) {
      const parsed = parseMessage('desired', payload);
      if (!parsed.ok) return;
      const deploymentId = (parsed.value.desired.signed as { deploymentId: string }).deploymentId;
      this.pending = { deploymentId, sha256: parsed.value.artifact.sha256, chunkCount: parsed.value.artifact.chunkCount };
      this.status('received', deploymentId);
    }
    this.maybeActivate();
  }

  private maybeActivate(): void {
    const p = this.pending;
    if (!p || (this.chunks.get(p.sha256)?.size ?? 0) < p.chunkCount) return;
    this.pending = undefined;
    this.activatedAt = Date.now();
    this.status('committed', p.deploymentId);
    this.onActivated(this);
  }

  private status(state: 'received' | 'committed', deploymentId: string): void {
    void this.client.publishAsync(this.topics.uplink(this.id, 'status'), encodeMessage('status', { ...envelopeFields(), seq: ++this.seq, deploymentId, state }), { qos: 1 });
  }
}

const broker = await startTestBroker();
const t = await startTestApp({ MQTT_URL: broker.url, ROLLOUT_TICK_MS: '500', LOG_LEVEL: 'warn' });
const nodes: BenchNode[] = [];
try {
  await createModel(t, 'bench', 16, 4);
  const version = await uploadVersion(t, 'bench', { version: '1.0.0' }, denseSoftmaxModel(9, 16).bytes);

  let started = Date.now();
  const ids = await enrolNodes(t, NODES, { bench: 'scale' });
  console.log(`enrolled ${NODES} nodes through POST /v1/enroll in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  let activated = 0;
  let allActivated: () => void = () => undefined;
  const everyoneActivated = new Promise<void>((r) => (allActivated = r));
  started = Date.now();
  for (let i = 0; i < ids.length; i += 500) {
    const batch = ids.slice(i, i + 500).map((id) => new BenchNode(id, fleetTopics(t.config.mqtt.fleetNamespace), () => ++activated === NODES && allActivated()));
    await Promise.all(batch.map((n) => n.connect(broker.url)));
    nodes.push(...batch);
  }
  console.log(`connected ${NODES} MQTT clients in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // Baseline: one raw message to each node and its answer, same broker, same clients.
  const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'bench-raw', reconnectPeriod: 0 });
  let replies = 0;
  const rawDone = new Promise<void>((resolveRaw) =>
    publisher.on('message', () => {
      if (++replies === NODES) resolveRaw();
    }),
  );
  await publisher.subscribeAsync('raw/replies/+', { qos: 1 });
  started = Date.now();
  await Promise.all(ids.map((id) => publisher.publishAsync(`raw/nodes/${id}`, Buffer.alloc(600), { qos: 1 })));
  await rawDone;
  const rawMs = Date.now() - started;
  await publisher.endAsync();

  started = Date.now();
  const id = await startRollout(t, { modelVersionId: version.id, selector: 'bench=scale', strategy: { waves: { percentages: WAVES } } });
  await everyoneActivated;
  const lastActivation = Math.max(...nodes.map((n) => n.activatedAt)) - started;
  let view = await getRollout(t, id);
  while (view.state === 'running') {
    await new Promise((r) => setTimeout(r, 100));
    view = await getRollout(t, id);
  }
  const completedMs = Date.now() - started;
  const perMinute = (NODES / lastActivation) * 60_000;
  console.log(`rollout: ${NODES} nodes, waves ${view.waveSizes.join('/')}, state ${view.state}`);
  console.log(`  start → last activation  ${(lastActivation / 1000).toFixed(1)} s  (${Math.round(perMinute).toLocaleString('en')} nodes/min)`);
  console.log(`  start → rollout completed ${(completedMs / 1000).toFixed(1)} s`);
  console.log(`  vs AWS IoT Jobs' 1,000 nodes/min cap: ${(perMinute / AWS_IOT_JOBS_MAX_PER_MINUTE).toFixed(1)}x (goal >= 10x)`);
  console.log(`  vs raw Mosquitto round trip to every node in this run (${(rawMs / 1000).toFixed(2)} s): ${(lastActivation / rawMs).toFixed(1)}x slower`);
} finally {
  await Promise.all(nodes.map((n) => n.client?.endAsync().catch(() => undefined)));
  await t.close();
  await broker.stop();
}
