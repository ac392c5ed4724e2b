import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { verifyInitialRoot, type RootDocument } from '#trust';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedNode } from '../helpers/simulated-node.js';
import { waitFor } from '../helpers/agent-process.js';
import { bearer, createEnrollmentToken, hardware, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

interface Installation {
  readonly t: TestApp;
  readonly node: SimulatedNode;
  /** Every topic the node's MQTT client received. */
  readonly heard: string[];
  readonly artifact: Buffer;
}

/**
 * Two separate installations (own database, own keys) on one broker, as when a second control plane is
 * pointed at a shared Mosquitto: each must neither hear the other's nodes nor reach them.
 */
describe('two installations on one broker', () => {
  let broker: TestBroker;
  const installations: Installation[] = [];

  const metric = async (t: TestApp, pattern: RegExp) => {
    const text = (await t.http().get('/metrics').expect(200)).text;
    return text.split('\n').filter((l) => pattern.test(l)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };

  /** A control plane and one node enrolled through POST /v1/enroll, connected with what enrolment told it. */
  const install = async (): Promise<Installation> => {
    const t = await startTestApp({ MQTT_URL: broker.url });
    const { token } = await createEnrollmentToken(t);
    const enrolled = (await t.http().post('/v1/enroll').send({ token, nodeKey: `ns-node-${randomBytes(6).toString('hex')}`, hardware }).expect(200)).body as {
      nodeId: string;
      root: Parameters<typeof verifyInitialRoot>[0];
      mqtt: { namespace: string };
    };
    expect(enrolled.mqtt.namespace).toBe(t.config.mqtt.fleetNamespace);
    const root: RootDocument = verifyInitialRoot(enrolled.root, new Date());
    const node = new SimulatedNode({ brokerUrl: broker.url, namespace: enrolled.mqtt.namespace, nodeId: enrolled.nodeId, root });
    await node.connect();
    const heard: string[] = [];
    node.client.on('message', (topic) => heard.push(topic));
    // A real model (uploads are loaded at upload), different for each installation.
    return { t, node, heard, artifact: denseSoftmaxModel(randomBytes(4).readUInt32LE(), 4, 2, { padBytes: 300_000 }).bytes };
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    installations.push(await install(), await install());
  }, 60_000);
  afterAll(async () => {
    for (const { t, node } of installations) {
      await node.disconnect();
      await t.close();
    }
    await broker.stop();
  });

  it('derives a different namespace for each installation', () => {
    const [one, two] = installations.map((i) => i.t.config.mqtt.fleetNamespace);
    expect(one).not.toBe(two);
  });

  it('keeps each installation’s node traffic, desired states and chunks to itself', async () => {
    for (const [n, { t, node, artifact }] of installations.entries()) {
      for (let seq = 1; seq <= 20; seq++) await node.publish('heartbeat', node.heartbeat(seq));
      await t.http().post('/v1/models').set(bearer(t.adminKey)).send({ name: 'ns', task: 'test', inputSpec: { shape: [1, 4] }, outputSpec: { shape: [1, 2] } }).expect(201);
      const version = await t.http().post('/v1/models/ns/versions').set(bearer(t.adminKey))
        .field('version', `1.0.${n}`).field('variant', 'fp32').field('format', 'onnx').field('engine', 'onnxruntime').field('skipSelfTest', 'true')
        .attach('artifact', artifact, 'm.onnx').expect(201);
      await t.http().post('/v1/deployments').set(bearer(t.adminKey)).send({ modelVersionId: version.body.id, nodeIds: [node.nodeId] }).expect(201);
    }

    for (const { t, node, heard, artifact } of installations) {
      // The node verified its own installation's artifact (desired state, manifest, chunks)...
      expect((await node.verified).equals(artifact)).toBe(true);
      // ...and every heartbeat it sent was stored by its own control plane.
      await waitFor(async () => {
        await t.app.get(TelemetryService).flush();
        return Number(((await t.db.query('SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1', [node.nodeId])) as { n: string }[])[0]?.n);
      }, (n) => n === 20, 15_000, 'heartbeats stored');
      // Only its own topics reached it: one desired state, chunks of its own artifact only.
      const root = `ef/v1/${t.config.mqtt.fleetNamespace}/`;
      expect(heard.filter((topic) => !topic.startsWith(root))).toEqual([]);
      expect(heard.filter((topic) => topic.endsWith('/desired'))).toHaveLength(1);
      const otherSha = installations.find((i) => i.node !== node)?.node.download?.sha256 ?? 'none';
      expect(heard.filter((topic) => topic.includes(otherSha))).toEqual([]);
    }
    // Neither control plane heard the other's node: nothing refused, every message accepted.
    for (const { t } of installations) {
      expect(await metric(t, /^edgefleet_mqtt_invalid_messages_total\{/)).toBe(0);
      expect(await metric(t, /^edgefleet_mqtt_messages_total\{.*kind="heartbeat"/)).toBe(20);
    }
  });
});
