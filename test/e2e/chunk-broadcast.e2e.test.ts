import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import { fleetTopics, parseMessage } from '#protocol';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { chunkPublishes, expandRanges } from '../helpers/chunk-metrics.js';
import { createModel, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
const PAD_BYTES = 1024 * 1024;
/** Broadcast chunks the lossy node never sees (fault injection in its transport). */
const LOST = [1, 4, 5];

/**
 * The chunks of a deployment go out once, by broadcast, to real agents. An agent drops chunks that
 * arrive before its download store is open; it opens it before it reports `downloading`, and the control
 * plane starts the broadcast once every target has reported it. The bounded wait is set far beyond the
 * test so that only readiness can start the broadcast in time; the agents' stall timeout (after which
 * they ask for missing chunks) is long, so any repair means chunks went missing, not that a wait was tight.
 */
describe('chunk broadcast to real agents', () => {
  let broker: TestBroker;
  let t: TestApp;
  let healthy: AgentProcess[];
  let lossy: AgentProcess;
  let observer: MqttClient;
  const requests: number[][] = [];
  let release = 0;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '20', BROADCAST_WAIT_MS: '60000' });
    await createModel(t, 'fanout', INPUTS, 4);
    const { token } = await createEnrollmentToken(t);
    const start = (name: string, env: Record<string, string> = {}) =>
      AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name, stallSeconds: 10, soak: { inferences: 1_000_000, seconds: 0.3 }, env });
    healthy = await Promise.all([0, 1, 2].map((i) => start(`healthy-${i}`)));
    lossy = await start('lossy', { EDGEFLEET_DROP_BROADCAST_CHUNKS: LOST.join(',') });
    // Watches what the lossy node asks for.
    observer = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `observer-${Date.now()}`, reconnectPeriod: 0 });
    observer.on('message', (_topic, payload) => {
      const parsed = parseMessage('artifact-requests', payload);
      if (parsed.ok) requests.push(expandRanges(parsed.value.missing));
    });
    await observer.subscribeAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(lossy.nodeId, 'artifact-requests'), { qos: 1 });
  }, 90_000);

  afterAll(async () => {
    await observer?.endAsync();
    await Promise.all([...(healthy ?? []), lossy].filter(Boolean).map((a) => a.remove()));
    await t?.close();
    await broker?.stop();
  });

  /** Uploads a new ~1 MB version, deploys it to `agents`, waits until every one has committed it. */
  const rollOut = async (agents: AgentProcess[]) => {
    const model = denseSoftmaxModel(++release, INPUTS, 4, { padBytes: PAD_BYTES });
    const golden = Float32Array.from({ length: INPUTS }, (_, i) => i / INPUTS);
    const selfTest = { input: Array.from(golden), expectedOutput: Array.from(model.reference(golden)), tolerance: 1e-4 };
    const version = await uploadVersion(t, 'fanout', { version: `1.0.${release}`, selfTest }, model.bytes);
    const before = await chunkPublishes(t);
    const deployment = (await t.http().post('/v1/deployments').set(bearer(t.adminKey)).send({ modelVersionId: version.id, nodeIds: agents.map((a) => a.nodeId) }).expect(201))
      .body as { id: string; chunkCount: number };
    const states = async () =>
      ((await t.http().get(`/v1/deployments/${deployment.id}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null }[]).map((x) => x.state);
    const final = await waitFor(states, (s) => s.every((x) => x === 'committed' || x === 'failed' || x === 'rolled-back'), 120_000, 'every agent done');
    expect(final).toEqual(agents.map(() => 'committed'));
    const after = await chunkPublishes(t);
    return { chunkCount: deployment.chunkCount, broadcast: after.broadcast - before.broadcast, repair: after.repair - before.repair };
  };

  it('sends every chunk once for the whole batch, and no agent needs a repair', async () => {
    const result = await rollOut(healthy);
    expect(result.broadcast).toBe(result.chunkCount);
    expect(result.repair).toBe(0);
  }, 180_000);

  it('re-sends to a node that lost chunks exactly the chunks it lost', async () => {
    requests.length = 0;
    const result = await rollOut([...healthy, lossy]);
    expect(result.broadcast).toBe(result.chunkCount);
    expect(requests).toEqual([LOST]);
    expect(result.repair).toBe(LOST.length);
  }, 180_000);
});
