import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { chunkPublishes } from '../helpers/chunk-metrics.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;

/**
 * The retained desired state comes again whenever the agent (re)subscribes: after a reconnect, and
 * twice after a restart with a persistent session (queued and retained). The crash campaign failed under
 * load because such a copy, arriving while a download waited for chunks, ended the download as if it
 * were complete: the agent then verified a file with holes (`hash-mismatch`) and rolled back.
 */
describe('a desired state delivered again during a download', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '20' });
    await createModel(t, 'redelivered', INPUTS, 4);
    const { token } = await createEnrollmentToken(t);
    // The broadcast's chunk 0 is lost on the way, so the download must wait (stallSeconds) and repair it;
    // the wait is long enough to reconnect in it on a loaded machine.
    agent = await AgentProcess.start({
      controlPlaneUrl: t.url,
      enrollmentToken: token,
      stallSeconds: 10,
      soak: { inferences: 1_000_000, seconds: 0.3 },
      env: { EDGEFLEET_DROP_BROADCAST_CHUNKS: '0' },
    });
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  it('finishes the download it was doing (repairing what it lacks) and commits', async () => {
    const model = denseSoftmaxModel(7, INPUTS, 4, { padBytes: 1024 * 1024 });
    const golden = Float32Array.from({ length: INPUTS }, (_, i) => i / INPUTS);
    const selfTest = { input: Array.from(golden), expectedOutput: Array.from(model.reference(golden)), tolerance: 1e-4 };
    const version = await uploadVersion(t, 'redelivered', { version: '1.0.0', selfTest }, model.bytes);
    const before = await chunkPublishes(t);
    const deployment = await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    const chunks = Math.ceil(model.bytes.length / t.config.distribution.chunkSizeBytes);

    // The broadcast is out and the agent waits for its missing chunk...
    await waitFor(() => chunkPublishes(t), (p) => p.broadcast - before.broadcast >= chunks, 60_000, 'the broadcast');
    await waitFor(() => agent.status(), (s) => s.phase === 'downloading', 30_000, 'the agent downloading');
    expect((await chunkPublishes(t)).repair).toBe(before.repair);
    // ...when its connection is taken over (as by a network change): it reconnects, subscribes again and
    // receives the retained desired state of the deployment it is downloading once more.
    const connects = () => agent.logs.filter((line) => line.includes('"msg":"connected to the broker"')).length;
    const connectedBefore = connects();
    const intruder = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `node-${agent.nodeId}`, clean: true, reconnectPeriod: 0 });
    await intruder.endAsync();
    await waitFor(async () => connects(), (n) => n > connectedBefore, 30_000, 'the agent to reconnect');

    const states = async () =>
      ((await t.http().get(`/v1/deployments/${deployment.id}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string; reason: string | null }[]).map(
        (x) => `${x.state}${x.reason ? `:${x.reason}` : ''}`,
      );
    const final = await waitFor(states, (s) => ['committed', 'failed', 'rolled-back'].some((terminal) => s[0]?.startsWith(terminal)), 90_000, 'an outcome');
    expect(final).toEqual(['committed']);
    expect((await agent.status()).model?.sha256).toBe(version.sha256);
    // Only the lost chunk was sent again.
    expect((await chunkPublishes(t)).repair - before.repair).toBe(1);
  }, 180_000);
});
