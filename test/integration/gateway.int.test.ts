import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { encodeMessage, envelopeFields, fleetTopics, parseMessage } from '#protocol';
import { verifyInitialRoot } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { TelemetryRepository } from '../../apps/control-plane/src/telemetry/telemetry.repository.js';
import { createModel, seedNodes, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedNode } from '../helpers/simulated-node.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';


async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!accept(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    value = await probe();
  }
  return value;
}

describe('MQTT gateway: two control-plane replicas on one broker', () => {
  let a: TestApp;
  let b: TestApp;
  let root: ReturnType<typeof verifyInitialRoot>;
  let broker: TestBroker;

  beforeAll(async () => {
    // Its own broker with the repo's Mosquitto configuration: the 10,000-message burst stays here.
    broker = await startTestBroker();
    a = await startTestApp({ MQTT_URL: broker.url });
    // A second replica: same database, same keys, same shared-subscription group.
    b = await startTestApp({ DATABASE_URL: a.config.database.url, KEYS_DIR: a.config.trust.keysDir, MQTT_SHARED_GROUP: a.config.mqtt.sharedGroup, MQTT_URL: broker.url });
    root = verifyInitialRoot(await new KeyStore(a.config.trust.keysDir).currentRoot(), new Date());
  });
  afterAll(async () => {
    await b.close();
    await a.close();
    await broker.stop();
  });

  const flushBoth = () => Promise.all([a.app.get(TelemetryService).flush(), b.app.get(TelemetryService).flush()]);
  const count = async (sql: string, params: unknown[] = []) => Number(((await a.db.query(sql, params)) as { n: string }[])[0]?.n);
  const metric = async (t: TestApp, pattern: RegExp) => {
    const text = (await t.http().get('/metrics').expect(200)).text;
    return text.split('\n').filter((l) => pattern.test(l)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };

  it('stores 10,000 heartbeats from 100 nodes exactly once, split between the replicas, duplicates included', async () => {
    const ids = await seedNodes(a, 100);
    const nodes = ids.map((nodeId) => new SimulatedNode({ brokerUrl: broker.url, namespace: a.config.mqtt.fleetNamespace, nodeId, root }));
    await Promise.all(nodes.map((n) => n.connect()));
    await Promise.all(nodes.map(async (n) => {
      const sent = Array.from({ length: 100 }, (_, i) => n.heartbeat(i + 1));
      for (const heartbeat of sent) await n.publish('heartbeat', heartbeat);
      // A redelivery of the same messages (as QoS 1 can do) must not add rows.
      for (const heartbeat of sent.slice(0, 5)) await n.publish('heartbeat', heartbeat);
    }));
    const stored = await eventually(async () => {
      await flushBoth();
      return count(`SELECT count(*) AS n FROM node_heartbeats WHERE node_id = ANY($1)`, [ids]);
    }, (n) => n >= 10_000);
    expect(stored).toBe(10_000);
    expect(await count(`SELECT count(DISTINCT (node_id, seq)) AS n FROM node_heartbeats WHERE node_id = ANY($1)`, [ids])).toBe(10_000);
    // Both replicas took a share of the traffic.
    const [fromA, fromB] = [await metric(a, /^edgefleet_mqtt_messages_total\{.*kind="heartbeat"/), await metric(b, /^edgefleet_mqtt_messages_total\{.*kind="heartbeat"/)];
    expect(fromA).toBeGreaterThan(0);
    expect(fromB).toBeGreaterThan(0);
    expect(fromA + fromB).toBe(10_500);
    expect(await count(`SELECT count(*) AS n FROM nodes WHERE id = ANY($1) AND status = 'online' AND last_seen_at IS NOT NULL`, [ids])).toBe(100);
    await Promise.all(nodes.map((n) => n.disconnect()));
  });

  it('records presence and results idempotently, and offline from the last will', async () => {
    const [nodeId] = await seedNodes(a, 1);
    const node = new SimulatedNode({ brokerUrl: broker.url, namespace: a.config.mqtt.fleetNamespace, nodeId: nodeId!, root });
    await node.connect();
    await node.publish('presence', { ...envelopeFields(), online: true, agentVersion: '0.1.0' });
    await eventually(() => count(`SELECT count(*) AS n FROM nodes WHERE id = $1 AND status = 'online' AND agent_version = '0.1.0'`, [nodeId]), (n) => n === 1);
    // A record keeps its time when sent again (the agent re-sends what it spooled).
    const servedAt = new Date().toISOString();
    const record = (seq: number) => ({ seq, ts: servedAt, modelSha256: 'c'.repeat(64), topClass: seq % 10, confidence: 0.9, latencyMs: 0.5 });
    const batch = { ...envelopeFields(), records: [record(1), record(2), record(3)] };
    await node.publish('results', batch);
    await node.publish('results', batch); // replayed after a reconnect: stored once
    await node.publish('results', { ...envelopeFields(), records: [record(3), record(4)] });
    await eventually(async () => {
      await flushBoth();
      return count(`SELECT count(*) AS n FROM inference_results WHERE node_id = $1`, [nodeId]);
    }, (n) => n === 4);
    expect(await count(`SELECT count(*) AS n FROM inference_results WHERE node_id = $1`, [nodeId])).toBe(4);
    // The last will marks the node offline when its connection drops.
    node.client.stream.destroy();
    await eventually(() => count(`SELECT count(*) AS n FROM nodes WHERE id = $1 AND status = 'offline'`, [nodeId]), (n) => n === 1);
    expect(await count(`SELECT count(*) AS n FROM nodes WHERE id = $1 AND status = 'offline'`, [nodeId])).toBe(1);
    // The retained offline presence, delivered again (as at every control-plane subscribe), is no sighting.
    const lastSeen = async () => ((await a.db.query(`SELECT last_seen_at::text AS t FROM nodes WHERE id = $1`, [nodeId])) as { t: string }[])[0]?.t;
    const before = await lastSeen();
    await a.app.get(TelemetryRepository).recordPresence(nodeId!, { ...envelopeFields(), online: false });
    expect(await lastSeen()).toBe(before);
  });

  it('attributes each result to the version it was served with when two versions have the same bytes', async () => {
    await createModel(a, 'same-bytes', 4, 2);
    const bytes = denseSoftmaxModel(11, 4, 2).bytes;
    const first = await uploadVersion(a, 'same-bytes', { version: '1.0.0' }, bytes);
    const second = await uploadVersion(a, 'same-bytes', { version: '1.0.7' }, bytes);
    expect(second.sha256).toBe(first.sha256);
    const [nodeId] = await seedNodes(a, 1);
    const node = new SimulatedNode({ brokerUrl: broker.url, namespace: a.config.mqtt.fleetNamespace, nodeId: nodeId!, root });
    await node.connect();
    const record = (seq: number, version?: string, sha256 = first.sha256) => ({
      seq,
      ts: new Date().toISOString(),
      modelSha256: sha256,
      ...(version ? { model: { name: 'same-bytes', version, variant: 'fp32' } } : {}),
      topClass: 1,
      confidence: 0.8,
      latencyMs: 0.5,
    });
    // Two results served with 1.0.0, three with 1.0.7, one from an agent that names no version, and one
    // naming 1.0.7 with other bytes than 1.0.7 has (not that version: stored without one).
    await node.publish('results', { ...envelopeFields(), records: [record(1, '1.0.0'), record(2, '1.0.0'), record(3, '1.0.7')] });
    await node.publish('results', { ...envelopeFields(), records: [record(4, '1.0.7'), record(5, '1.0.7'), record(6), record(7, '1.0.7', 'd'.repeat(64))] });
    await eventually(async () => {
      await flushBoth();
      return count(`SELECT count(*) AS n FROM inference_results WHERE node_id = $1`, [nodeId]);
    }, (n) => n === 7);
    const perVersion = (await a.db.query(
      `SELECT r.seq::int AS seq, mv.version FROM inference_results r LEFT JOIN model_versions mv ON mv.id = r.model_version_id
        WHERE r.node_id = $1 ORDER BY r.seq`,
      [nodeId],
    )) as { seq: number; version: string | null }[];
    expect(perVersion).toEqual([
      { seq: 1, version: '1.0.0' },
      { seq: 2, version: '1.0.0' },
      { seq: 3, version: '1.0.7' },
      { seq: 4, version: '1.0.7' },
      { seq: 5, version: '1.0.7' },
      { seq: 6, version: null },
      { seq: 7, version: null },
    ]);
    await node.disconnect();
  });

  it('acknowledges each stored status by its own seq, in order, so the node can stop re-sending exactly those', async () => {
    const [nodeId] = await seedNodes(a, 1);
    const node = new SimulatedNode({ brokerUrl: broker.url, namespace: a.config.mqtt.fleetNamespace, nodeId: nodeId!, root });
    await node.connect();
    const listener = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    const acks: number[] = [];
    listener.on('message', (_topic, payload) => {
      const parsed = parseMessage('acks', payload);
      if (parsed.ok && parsed.value.statusSeq !== undefined) acks.push(parsed.value.statusSeq);
    });
    await listener.subscribeAsync(fleetTopics(a.config.mqtt.fleetNamespace).acks(nodeId!), { qos: 1 });
    const deploymentId = randomUUID();
    const status = (seq: number, state: 'received' | 'committed') => ({ ...envelopeFields(), seq, deploymentId, state });
    await node.publish('status', status(6, 'received'));
    await node.publish('status', status(7, 'committed'));
    const seen = await eventually(async () => acks, (list) => list.includes(6) && list.includes(7));
    // One ack per status (two replicas may each store one, so in either order: older agents keep the highest).
    expect([...new Set(seen)].sort()).toEqual([6, 7]);
    // The node re-sends its latest status (it had not seen the ack yet): stored once, acknowledged again.
    const before = acks.length;
    await node.publish('status', status(7, 'committed'));
    await eventually(async () => acks.length, (n) => n > before);
    expect(await count(`SELECT count(*) AS n FROM deployment_status_events WHERE node_id = $1`, [nodeId])).toBe(2);
    await listener.endAsync();
    await node.disconnect();
  });

  it('survives malformed payloads, answers them with error events and counts them in /metrics', async () => {
    const [nodeId] = await seedNodes(a, 1);
    const node = new SimulatedNode({ brokerUrl: broker.url, namespace: a.config.mqtt.fleetNamespace, nodeId: nodeId!, root });
    await node.connect();
    const before = await metric(a, /^edgefleet_mqtt_invalid_messages_total\{/) + (await metric(b, /^edgefleet_mqtt_invalid_messages_total\{/));
    await node.publishRaw('heartbeat', '{not json');
    await node.publishRaw('heartbeat', JSON.stringify({ ...node.heartbeat(1), v: 99 }));
    await node.publishRaw('heartbeat', JSON.stringify({ ...node.heartbeat(1), cpu: 'busy' }));
    // Over the heartbeat's 4 KiB bound (the broker's own max_packet_size would cut off anything over 1 MiB).
    await node.publishRaw('heartbeat', Buffer.alloc(100 * 1024, 0x20));
    const stranger = new SimulatedNode({ brokerUrl: broker.url, namespace: a.config.mqtt.fleetNamespace, nodeId: randomUUID(), root });
    await stranger.connect();
    await stranger.publish('heartbeat', stranger.heartbeat(1));
    await node.client.publishAsync(fleetTopics(a.config.mqtt.fleetNamespace).uplink(nodeId!, 'heartbeat'), encodeMessage('heartbeat', node.heartbeat(2)), { qos: 1 });

    const reasons = async () => {
      const text = (await a.http().get('/metrics')).text + (await b.http().get('/metrics')).text;
      return text;
    };
    const text = await eventually(reasons, (t) => ['malformed-json', 'unsupported-version', 'schema', 'too-large', 'unknown-node'].every((r) => t.includes(`reason="${r}"`)));
    for (const reason of ['malformed-json', 'unsupported-version', 'schema', 'too-large', 'unknown-node']) expect(text).toContain(`reason="${reason}"`);
    const after = await metric(a, /^edgefleet_mqtt_invalid_messages_total\{/) + (await metric(b, /^edgefleet_mqtt_invalid_messages_total\{/));
    expect(after - before).toBeGreaterThanOrEqual(5);
    // The node hears why its messages were dropped; both replicas are still serving.
    const errors = await eventually(async () => node.errors.map((e) => e.code), (codes) => codes.length >= 4);
    expect(errors.sort()).toEqual(['malformed-json', 'schema', 'too-large', 'unsupported-version']);
    await a.http().get('/health').expect(200);
    await b.http().get('/health').expect(200);
    // ...and the valid heartbeat that followed was stored.
    await eventually(async () => {
      await flushBoth();
      return count(`SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1`, [nodeId]);
    }, (n) => n === 1);
    await Promise.all([node.disconnect(), stranger.disconnect()]);
  });
});
