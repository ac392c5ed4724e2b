import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { envelopeFields, type FleetTopics, fleetTopics } from '#protocol';
import { verifyInitialRoot, type RootDocument } from '#trust';
import { BrokerAccess } from '../../apps/control-plane/src/broker/broker-access.js';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedNode } from '../helpers/simulated-node.js';
import { bearer, createEnrollmentToken, hardware, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

interface Enrolled {
  nodeId: string;
  mqtt: { url: string; username: string; password: string; clientId: string; namespace: string };
}

describe('node identity at the broker (Mosquitto dynamic security)', () => {
  let broker: TestBroker;
  let t: TestApp;
  let root: RootDocument;
  let a: Enrolled;
  let b: Enrolled;
  let topics: FleetTopics;
  const cp = { username: 'edgefleet-cp', password: randomBytes(16).toString('hex') };

  beforeAll(async () => {
    broker = await startTestBroker({ dynsec: cp });
    t = await startTestApp({ MQTT_URL: broker.url, MQTT_USERNAME: cp.username, MQTT_PASSWORD: cp.password, MQTT_DYNSEC: 'true' });
    const { token } = await createEnrollmentToken(t, { labels: { acl: 'test' } });
    const enroll = async (key: string) => (await t.http().post('/v1/enroll').send({ token, nodeKey: key, hardware }).expect(200)).body as Enrolled & { root: never };
    const ea = await enroll(`acl-node-a-${randomBytes(3).toString('hex')}`);
    const eb = await enroll(`acl-node-b-${randomBytes(3).toString('hex')}`);
    root = verifyInitialRoot(ea.root, new Date());
    a = ea;
    b = eb;
    // The namespace every node is told at enrolment: its topics are under it.
    topics = fleetTopics(ea.mqtt.namespace);
  });
  afterAll(async () => {
    await t.close();
    await broker.stop();
  });

  const connectAs = (e: Enrolled, password = e.mqtt.password) =>
    mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: e.mqtt.clientId, username: e.mqtt.username, password, reconnectPeriod: 0 });

  it('refuses a wrong password and a client id that is not the node’s', async () => {
    await expect(connectAs(a, 'wrong-password')).rejects.toThrow();
    await expect(
      mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'someone-else', username: a.mqtt.username, password: a.mqtt.password, reconnectPeriod: 0 }),
    ).rejects.toThrow();
  });

  it('lets node A use its own topics but neither subscribe to nor publish on node B’s', async () => {
    const client = await connectAs(a);
    const own = await client.subscribeAsync([topics.desired(a.nodeId)], { qos: 1 });
    expect(own[0]?.qos).toBe(1);
    for (const foreign of [topics.desired(b.nodeId), topics.errors(b.nodeId), topics.repairChunks(b.nodeId), topics.everything, 'ef/v1/#', '#']) {
      await expect(client.subscribeAsync(foreign, { qos: 1 })).rejects.toThrow('Not authorized');
    }

    const hb = { ...envelopeFields(), seq: 1, model: null, uptimeS: 1, cpu: 0, memMb: 1, freeDiskMb: 1, inferences: 0, errors: 0, latencyMs: null };
    await expect(client.publishAsync(topics.uplink(b.nodeId, 'heartbeat'), JSON.stringify(hb), { qos: 1 })).rejects.toThrow('Not authorized');
    // Nodes never write desired state, not even their own, nor artifact chunks.
    await expect(client.publishAsync(topics.desired(a.nodeId), 'x', { qos: 1 })).rejects.toThrow('Not authorized');
    await expect(client.publishAsync(topics.artifactChunk('a'.repeat(64), 0), 'x', { qos: 1 })).rejects.toThrow('Not authorized');

    // Its own heartbeat goes through to the control plane.
    await client.publishAsync(topics.uplink(a.nodeId, 'heartbeat'), JSON.stringify(hb), { qos: 1 });
    let stored = 0;
    for (let i = 0; i < 50 && stored === 0; i++) {
      await t.app.get(TelemetryService).flush();
      stored = Number(((await t.db.query('SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1', [a.nodeId])) as { n: string }[])[0]?.n);
      if (!stored) await new Promise((r) => setTimeout(r, 100));
    }
    expect(stored).toBe(1);
    const [bRows] = (await t.db.query('SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1', [b.nodeId])) as { n: string }[];
    expect(Number(bRows?.n)).toBe(0);
    await client.endAsync();
  });

  it('lets a node read the trust roots (retained, published by the control plane) but never write one', async () => {
    const client = await connectAs(a);
    const got = new Promise<Buffer>((resolve) => client.once('message', (_topic, payload) => resolve(payload)));
    const granted = await client.subscribeAsync(topics.allTrustRoots, { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
    const message = JSON.parse((await got).toString()) as { root: { signed: RootDocument } };
    expect(message.root.signed).toEqual(root);
    await expect(client.publishAsync(topics.trustRoot(root.version + 1), 'x', { qos: 1, retain: true })).rejects.toThrow('Not authorized');
    await client.endAsync();
  });

  it('gives a node enrolled before an uplink kind existed the right to publish it with its next delivery', async () => {
    // A node enrolled by an older version has no ACL for `shadow`: take it away, as that version left it.
    const shadowTopic = topics.uplink(a.nodeId, 'shadow');
    await promisify(execFile)('mosquitto_ctrl', ['-h', '127.0.0.1', '-p', String(broker.port), '-u', cp.username, '-P', cp.password, 'dynsec', 'removeRoleACL', `node-${a.nodeId}`, 'publishClientSend', shadowTopic]);
    const client = await connectAs(a);
    await expect(client.publishAsync(shadowTopic, '{}', { qos: 1 })).rejects.toThrow('Not authorized');
    await client.endAsync();
    await t.app.get(BrokerAccess).allowArtifact([a.nodeId], 'c'.repeat(64));
    const again = await connectAs(a);
    await again.publishAsync(shadowTopic, '{}', { qos: 1 }); // refused by the control plane's schema, not by the broker
    await again.endAsync();
  });

  it('delivers an artifact only to the nodes it is deployed to', async () => {
    const nodeA = new SimulatedNode({ brokerUrl: broker.url, namespace: a.mqtt.namespace, nodeId: a.nodeId, root, username: a.mqtt.username, password: a.mqtt.password });
    const nodeB = new SimulatedNode({ brokerUrl: broker.url, namespace: b.mqtt.namespace, nodeId: b.nodeId, root, username: b.mqtt.username, password: b.mqtt.password });
    await Promise.all([nodeA.connect(), nodeB.connect()]);
    const chunksSeenByB: string[] = [];
    nodeB.client.on('message', (topic) => topic.startsWith(`${topics.root}/artifacts/`) && chunksSeenByB.push(topic));

    await t.http().post('/v1/models').set(bearer(t.adminKey)).send({ name: 'acl', task: 'test', inputSpec: { shape: [1, 4] }, outputSpec: { shape: [1, 2] } }).expect(201);
    const artifact = denseSoftmaxModel(1, 4, 2, { padBytes: 600_000 }).bytes; // real: uploads are loaded at upload
    const version = await t.http().post('/v1/models/acl/versions').set(bearer(t.adminKey))
      .field('version', '1.0.0').field('variant', 'fp32').field('format', 'onnx').field('engine', 'onnxruntime').field('skipSelfTest', 'true')
      .attach('artifact', artifact, 'm.onnx').expect(201);
    await t.http().post('/v1/deployments').set(bearer(t.adminKey)).send({ modelVersionId: version.body.id, nodeIds: [a.nodeId] }).expect(201);

    const received = await nodeA.verified;
    expect(received.equals(artifact)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(chunksSeenByB).toEqual([]);
    expect(nodeB.download).toBeUndefined();
    await Promise.all([nodeA.disconnect(), nodeB.disconnect()]);
  });

  it('disconnects a decommissioned node and refuses it from then on', async () => {
    const client = await connectAs(b);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await t.http().post(`/v1/nodes/${b.nodeId}/decommission`).set(bearer(t.adminKey)).expect(200);
    await closed;
    await expect(connectAs(b)).rejects.toThrow();
  });
});
