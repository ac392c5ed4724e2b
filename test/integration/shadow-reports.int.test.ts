import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import { envelopeFields, fleetTopics, type ShadowReportMessage } from '#protocol';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/** Shadow reports over the real broker into PostgreSQL: the latest by seq, only for a deployment that targets the node. */
describe('shadow reports (nodes/{nodeId}/shadow)', () => {
  let broker: TestBroker;
  let t: TestApp;
  let client: MqttClient;
  let nodeA: string;
  let nodeB: string;
  let deploymentA: string;
  let deploymentB: string;

  const report = (deploymentId: string, seq: number, samples: number): ShadowReportMessage => ({
    ...envelopeFields(),
    seq,
    deploymentId,
    sha256: 'c'.repeat(64),
    startedAt: new Date().toISOString(),
    samples,
    agreed: samples,
    errors: 0,
    skipped: 0,
    meanDivergence: 0.001,
    meanAbsDiff: 0.002,
    activeLatencyMs: 0.5,
    candidateLatencyMs: 0.6,
  });
  const send = (nodeId: string, message: unknown) => client.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(nodeId, 'shadow'), JSON.stringify(message), { qos: 1 });
  const stored = async (deploymentId: string, nodeId: string) =>
    ((await t.db.query(`SELECT seq::int, samples FROM shadow_reports WHERE deployment_id = $1 AND node_id = $2`, [deploymentId, nodeId])) as { seq: number; samples: number }[])[0];

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    await createModel(t, 'digits', 16, 4);
    const version = await uploadVersion(t, 'digits', { version: '1.0.0' }, denseSoftmaxModel(1).bytes);
    [nodeA = '', nodeB = ''] = await enrolNodes(t, 2);
    deploymentA = (await deploy(t, version.id, { nodeIds: [nodeA] })).id;
    deploymentB = (await deploy(t, version.id, { nodeIds: [nodeB] })).id;
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  }, 60_000);

  afterAll(async () => {
    await client?.endAsync();
    await t?.close();
    await broker?.stop();
  });

  it('keeps the latest report by seq; an older one, or one for a deployment that does not target the node, changes nothing', async () => {
    await send(nodeA, report(deploymentA, 20, 20));
    await waitFor(() => stored(deploymentA, nodeA), (row) => row?.samples === 20, 15_000, 'the first report stored');
    await send(nodeA, report(deploymentA, 15, 15)); // older: a redelivery or a reordered copy
    await send(nodeB, report(deploymentA, 30, 30)); // B is not a target of deployment A
    await send(nodeA, { ...report(deploymentA, 40, 5), agreed: 6 }); // refused at the edge: more agreements than samples
    // A later report of another node on the same connection: once it is stored, the ones before it were handled.
    await send(nodeB, report(deploymentB, 1, 3));
    await waitFor(() => stored(deploymentB, nodeB), (row) => row?.samples === 3, 15_000, 'the sentinel report stored');
    expect(await stored(deploymentA, nodeA)).toEqual({ seq: 20, samples: 20 });
    expect(await stored(deploymentA, nodeB)).toBeUndefined();
    await send(nodeA, report(deploymentA, 21, 25));
    await waitFor(() => stored(deploymentA, nodeA), (row) => row?.samples === 25, 15_000, 'a newer report replaces it');
  });
});
