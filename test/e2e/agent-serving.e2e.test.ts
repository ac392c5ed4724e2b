import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { denseSoftmaxModel, type DenseSoftmaxModel } from '../helpers/onnx-model.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
const SOAK_INFERENCES = 3;
/**
 * A target state the soak ends in (statuses reach the control plane after the agent's phase moves; a
 * failed soak shows `failed` first, then `rolled-back`).
 */
const decided = (state: string) => state === 'committed' || state.startsWith('rolled-back');
const golden = Array.from({ length: INPUTS }, (_, i) => (i % 5) / 5);

/**
 * A client's bad requests during a soak must not roll back a healthy model; a model-side failure still
 * must. One real agent, the real control plane, a real Mosquitto.
 */
describe('serving during a soak: client mistakes are refused, only model failures count', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;

  const targetStates = async (deploymentId: string) => {
    const res = await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200);
    return (res.body.targets as { state: string | null; reason: string | null }[]).map((x) => `${x.state}${x.reason ? `:${x.reason}` : ''}`);
  };
  const rollOut = async (version: string, model: DenseSoftmaxModel) => {
    const uploaded = await uploadVersion(t, 'serving', { version, selfTest: { input: golden, expectedOutput: Array.from(model.reference(Float32Array.from(golden))), tolerance: 1e-4 } }, model.bytes);
    const deployment = await deploy(t, uploaded.id, { nodeIds: [agent.nodeId] });
    // The soak has begun: inferences from here on count for (or against) this version.
    await waitFor(() => agent.status(), (s) => s.model?.sha256 === uploaded.sha256 && s.phase === 'soaking', 30_000, `${version} soaking`);
    return deployment.id;
  };
  const post = (body: string, contentType = 'application/json') => fetch(`${agent.url}/v1/infer`, { method: 'POST', headers: { 'content-type': contentType }, body });

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
    await createModel(t, 'serving', INPUTS, 4);
    const { token } = await createEnrollmentToken(t);
    // The soak ends on good inferences only (its time limit is far away): what the requests do decides it.
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: SOAK_INFERENCES, seconds: 600 } });
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  it('commits a healthy model although clients sent bad requests of every kind during its soak', async () => {
    const deploymentId = await rollOut('1.0.0', denseSoftmaxModel(1, INPUTS));
    const bad = [
      { what: 'wrong input length', res: await post(JSON.stringify({ input: golden.slice(1) })), status: 400 },
      { what: 'invalid JSON', res: await post('{"input": [1, 2,'), status: 400 },
      { what: 'wrong shape', res: await post(JSON.stringify({ input: 'pixels' })), status: 400 },
      { what: 'text/plain', res: await post(JSON.stringify({ input: golden }), 'text/plain'), status: 415 },
      { what: 'too large', res: await post(JSON.stringify({ input: Array.from({ length: 1_000_000 }, () => 0.123456) })), status: 413 },
    ];
    for (const { what, res, status } of bad) {
      expect({ what, status: res.status, type: res.headers.get('content-type') }).toEqual({ what, status, type: 'application/problem+json' });
      expect(((await res.json()) as { status: number }).status).toBe(status);
    }
    expect((await agent.status()).phase).toBe('soaking'); // none of them ended the soak
    for (let i = 0; i < SOAK_INFERENCES; i++) expect((await agent.infer(golden)).status).toBe(200);
    const states = await waitFor(() => targetStates(deploymentId), (s) => s.every(decided), 30_000, 'soak decided');
    expect(states).toEqual(['committed']);
  });

  it('still rolls back a model that fails on a valid input during its soak', async () => {
    const deploymentId = await rollOut('1.1.0', denseSoftmaxModel(2, INPUTS, 4, { sqrtInput: true }));
    const res = await agent.infer(Array.from({ length: INPUTS }, () => -1)); // a valid input; the model answers NaN
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const states = await waitFor(() => targetStates(deploymentId), (s) => s.every(decided), 30_000, 'soak decided');
    expect(states).toEqual(['rolled-back:soak-failed']);
    expect((await agent.status()).model?.version).toBe('1.0.0');
  });
});
