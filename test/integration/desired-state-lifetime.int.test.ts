import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { encodeMessage, envelopeFields, fleetTopics } from '#protocol';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { retainedDesired } from '../helpers/retained-desired.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

const LIFETIME_S = 4;

/** Desired states outlive a node's absence: re-signed before they expire; a late refusal changes no outcome. */
describe('desired-state lifetime', () => {
  let broker: TestBroker;
  let t: TestApp;
  let version: { id: string; sha256: string };
  const where = () => ({ url: broker.url, namespace: t.config.mqtt.fleetNamespace });

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, DESIRED_STATE_TTL_SECONDS: String(LIFETIME_S) });
    await createModel(t, 'life', 8, 4);
    version = await uploadVersion(t, 'life', { version: '1.0.0' }, denseSoftmaxModel(7, 8).bytes);
  }, 60_000);

  afterAll(async () => {
    await t.close();
    await broker.stop();
  });

  it('re-signs the retained desired state of an offline node before it expires, under the configured lifetime', async () => {
    const [nodeId] = await enrolNodes(t, 1);
    const deployment = await deploy(t, version.id, { nodeIds: [nodeId as string] });
    const first = await waitFor(() => retainedDesired(where(), nodeId as string), (d) => d?.deploymentId === deployment.id, 5_000, 'retained desired state');
    expect(first && first.expires - first.issued).toBe(LIFETIME_S * 1000);
    // Past the first document's expiry, the broker holds a newer one for the same deployment, still valid.
    const later = await waitFor(() => retainedDesired(where(), nodeId as string), (d) => d !== undefined && first !== undefined && d.issued > first.expires, 20_000, 'a re-signed desired state');
    expect(later?.deploymentId).toBe(deployment.id);
    expect(later && later.expires).toBeGreaterThan(Date.now());
  });

  it('never moves a deployment target out of a terminal state because of a refusal', async () => {
    const [nodeId] = await enrolNodes(t, 1);
    const fleet = await SimulatedFleet.start(where(), [nodeId as string]);
    try {
      const deployment = await deploy(t, version.id, { nodeIds: [nodeId as string] });
      const target = async () => ((await t.http().get(`/v1/deployments/${deployment.id}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string }[])[0];
      await waitFor(target, (x) => x?.state === 'committed', 10_000, 'committed');
      // The node comes back later to an old retained document and refuses it, with a newer status seq.
      const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
      const late = { ...envelopeFields(), seq: 1_000, deploymentId: deployment.id, state: 'rejected' as const, reason: 'expired' as const, detail: 'desired state expired' };
      await client.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(nodeId as string, 'status'), encodeMessage('status', late), { qos: 1 });
      await client.endAsync();
      await waitFor(
        async () => ((await t.db.query(`SELECT count(*)::int AS n FROM deployment_status_events WHERE node_id = $1 AND seq = 1000`, [nodeId])) as { n: number }[])[0]?.n,
        (n) => n === 1,
        10_000,
        'the refusal stored',
      );
      await t.app.get(TelemetryService).flush();
      expect(await target()).toMatchObject({ state: 'committed' });
    } finally {
      await fleet.stop();
    }
  });

  it('shows a refusal on a target that has no outcome yet', async () => {
    const [nodeId] = await enrolNodes(t, 1);
    // No simulated node answers: the target has no state until the refusal arrives.
    const deployment = await deploy(t, version.id, { nodeIds: [nodeId as string] });
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    const refusal = { ...envelopeFields(), seq: 1, deploymentId: deployment.id, state: 'rejected' as const, reason: 'rollback' as const, detail: 'sequence 2 is not above the installed 2' };
    await client.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(nodeId as string, 'status'), encodeMessage('status', refusal), { qos: 1 });
    await client.endAsync();
    const target = async () => ((await t.http().get(`/v1/deployments/${deployment.id}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null }[])[0];
    const shown = await waitFor(target, (x) => x?.state === 'rejected', 10_000, 'the refusal on the target');
    expect(shown).toMatchObject({ state: 'rejected', reason: 'rollback', detail: 'sequence 2 is not above the installed 2' });
  });
});
