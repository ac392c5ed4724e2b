import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { type DeploymentState, encodeMessage, envelopeFields, type FailureReason, fleetTopics, type StatusMessage } from '#protocol';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * A deployment target's outcome is final: no status a node (or anyone on its topics) sends later moves it
 * out of a terminal state, whether the statuses come one by one or in one ingest batch — except the
 * rollback that follows a failure (`failed` → `rolled-back`).
 */
describe('deployment outcomes stay final', () => {
  let broker: TestBroker;
  let t: TestApp;
  let version: { id: string };
  let client: mqtt.MqttClient;

  const status = (deploymentId: string, seq: number, state: DeploymentState, reason?: FailureReason): StatusMessage => ({
    ...envelopeFields(),
    seq,
    deploymentId,
    state,
    ...(reason ? { reason, detail: `a ${state} sent late` } : {}),
  });
  const target = async (deploymentId: string) => ((await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null; reason: string | null }[])[0];
  const stored = (nodeId: string, seq: number) =>
    waitFor(
      async () => ((await t.db.query(`SELECT count(*)::int AS n FROM deployment_status_events WHERE node_id = $1 AND seq = $2`, [nodeId, seq])) as { n: number }[])[0]?.n,
      (n) => n === 1,
      10_000,
      `status ${seq} stored`,
    );
  const send = async (nodeId: string, message: StatusMessage) => {
    await client.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(nodeId, 'status'), encodeMessage('status', message), { qos: 1 });
    await stored(nodeId, message.seq);
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    await createModel(t, 'outcome', 8, 4);
    version = await uploadVersion(t, 'outcome', { version: '1.0.0' }, denseSoftmaxModel(9, 8).bytes);
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  }, 60_000);

  afterAll(async () => {
    await client?.endAsync();
    await t?.close();
    await broker?.stop();
  });

  it('no later status moves a committed target: not a restart, not a failure, not a refusal', async () => {
    const [nodeId] = (await enrolNodes(t, 1)) as [string];
    const fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, [nodeId]);
    try {
      const deployment = await deploy(t, version.id, { nodeIds: [nodeId] });
      await waitFor(() => target(deployment.id), (x) => x?.state === 'committed', 10_000, 'committed');
      let seq = 1_000;
      for (const [state, reason] of [['downloading'], ['failed', 'soak-failed'], ['rolled-back', 'soak-failed'], ['rejected', 'bad-signature']] as [DeploymentState, FailureReason?][]) {
        await send(nodeId, status(deployment.id, seq++, state, reason));
        await t.app.get(TelemetryService).flush();
        expect(await target(deployment.id)).toMatchObject({ state: 'committed', reason: null });
      }
    } finally {
      await fleet.stop();
    }
  });

  it('a failure is refined by the rollback that follows it, and then stays', async () => {
    const [nodeId] = (await enrolNodes(t, 1)) as [string];
    const deployment = await deploy(t, version.id, { nodeIds: [nodeId] });
    await send(nodeId, status(deployment.id, 1, 'failed', 'self-test-failed'));
    await waitFor(() => target(deployment.id), (x) => x?.state === 'failed', 10_000, 'failed');
    await send(nodeId, status(deployment.id, 2, 'rolled-back', 'self-test-failed'));
    await waitFor(() => target(deployment.id), (x) => x?.state === 'rolled-back', 10_000, 'rolled back');
    await send(nodeId, status(deployment.id, 3, 'committed'));
    await t.app.get(TelemetryService).flush();
    expect(await target(deployment.id)).toMatchObject({ state: 'rolled-back', reason: 'self-test-failed' });
  });

  it('statuses ingested in one batch settle as if they came one by one: the first outcome stays', async () => {
    const [nodeId] = (await enrolNodes(t, 1)) as [string];
    const deployment = await deploy(t, version.id, { nodeIds: [nodeId] });
    const telemetry = t.app.get(TelemetryService);
    // Pushed together, flushed once: before, the newest of the batch (the refusal) won.
    for (const message of [status(deployment.id, 1, 'activated'), status(deployment.id, 2, 'committed'), status(deployment.id, 3, 'rejected', 'bad-signature')]) telemetry.acceptStatus(nodeId, message);
    await telemetry.flush();
    expect(await target(deployment.id)).toMatchObject({ state: 'committed', reason: null });
  });
});
