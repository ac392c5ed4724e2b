import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel, denseSoftmaxTflite } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;

/**
 * Issue 10, trap 7 on a real agent: the control plane runs an upload with the engine its format names,
 * refuses garbage before anything is signed, and computes a self-test's expected output when only the
 * input is given; that computed output must be what a real node's engine gives, or every node would
 * roll the version back.
 */
describe('upload checks against a real agent', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;
  const model = denseSoftmaxModel(21, INPUTS);
  const golden = Array.from({ length: INPUTS }, (_, i) => ((i * 7) % 10) / 10);

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '20' });
    await createModel(t, 'computed', INPUTS, 4);
    const { token } = await createEnrollmentToken(t);
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1, seconds: 0.2 } });
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  const targetStates = async (deploymentId: string) =>
    ((await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null; reason: string | null }[]).map(
      (x) => `${x.state}${x.reason ? `:${x.reason}` : ''}`,
    );

  it('refuses a README uploaded as an ONNX model before any node can be sent it', async () => {
    const res = await t
      .http()
      .post('/v1/models/computed/versions')
      .set(bearer(t.adminKey))
      .field('version', '0.0.1')
      .field('variant', 'fp32')
      .field('format', 'onnx')
      .field('engine', 'onnxruntime')
      .field('skipSelfTest', 'true')
      .attach('artifact', Buffer.from('# README\n'), 'README.md');
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await t.http().get('/v1/models/computed/versions').set(bearer(t.adminKey)).expect(200)).body).toEqual([]);
  });

  it.each([
    { format: 'onnx', engine: 'onnxruntime', version: '1.0.0', bytes: () => model.bytes },
    { format: 'tflite', engine: 'litert', version: '1.1.0', bytes: () => Buffer.from(denseSoftmaxTflite(model)) },
  ] as const)('a $format self-test given only its input passes on the node with the output computed at upload', async ({ format, engine, version, bytes }) => {
    const uploaded = await uploadVersion(t, 'computed', { version, variant: format, format, engine, selfTest: { input: golden }, preprocessing: { scale: 0.5 } }, bytes());
    const deployment = await deploy(t, uploaded.id, { nodeIds: [agent.nodeId] });
    await waitFor(() => agent.status(), (s) => s.model?.sha256 === uploaded.sha256, 30_000, `${format} model active (self-test passed)`);
    // The soak needs an inference on the new model.
    expect((await agent.infer(golden)).status).toBe(200);
    await waitFor(() => targetStates(deployment.id), (s) => s.every((x) => x === 'committed'), 30_000, `${format} committed`);
  });
});
