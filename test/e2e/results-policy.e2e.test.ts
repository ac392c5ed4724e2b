import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sendsResult } from '#protocol';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 8;
const AGGREGATED = 40;
const SAMPLED = 60;
const input = Array.from({ length: INPUTS }, (_, i) => i / INPUTS);

interface AgentResultsStatus {
  results: { spooled: number; kept: number; policy: { mode: string; rate?: number } | null };
}

/**
 * What leaves the node is a policy: one real agent, the real control plane, a real Mosquitto. Under
 * `aggregates` no result is stored while the stats route still counts every inference (heartbeats); under
 * `sample` exactly the inputRefs the protocol's hash picks are stored; a request brings kept ones in.
 */
describe('results policy end to end', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;
  let versionId: string;

  const storedRefs = async () =>
    ((await t.db.query(`SELECT input_ref AS ref FROM inference_results WHERE node_id = $1 AND model_version_id = $2 ORDER BY input_ref`, [agent.nodeId, versionId])) as { ref: string }[]).map((r) => r.ref);
  const statsInferences = async () =>
    ((await t.http().get('/v1/models/policy/versions/1.0.0/stats').query({ window: '1h' }).set(bearer(t.adminKey)).expect(200)).body as { total: { inferences: number } }).total.inferences;
  const agentResults = async () => ((await (await fetch(`${agent.url}/v1/status`)).json()) as AgentResultsStatus).results;
  const infer = async (inputRef: string): Promise<{ topClass: number; confidence: number }> => {
    const res = await fetch(`${agent.url}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input, inputRef }) });
    expect(res.status).toBe(200);
    return (await res.json()) as { topClass: number; confidence: number };
  };
  const stats = async () =>
    ((await t.http().get('/v1/models/policy/versions/1.0.0/stats').query({ window: '1h' }).set(bearer(t.adminKey)).expect(200)).body as {
      total: { inferences: number; results: number; confidences: number; meanConfidence: number | null; feedback: { labelled: number; correct: number } };
    }).total;
  let served: { topClass: number; confidence: number } | undefined;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
    await createModel(t, 'policy', INPUTS, 4);
    await t.http().put('/v1/models/policy/results-policy').set(bearer(t.adminKey)).send({ mode: 'aggregates' }).expect(200);
    const { token } = await createEnrollmentToken(t);
    // Committed on time (no soak inferences needed), so every inference below is counted the same way.
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1_000_000, seconds: 0.2 } });
    const version = await uploadVersion(t, 'policy', { version: '1.0.0' }, denseSoftmaxModel(11, INPUTS).bytes);
    versionId = version.id;
    const deployment = await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    await waitFor(
      async () => ((await t.http().get(`/v1/deployments/${deployment.id}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string }[])[0]?.state,
      (s) => s === 'committed',
      60_000,
      'committed',
    );
  }, 120_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  it('stores no result under aggregates while the stats route counts every inference', async () => {
    expect((await agentResults()).policy).toEqual({ mode: 'aggregates' });
    for (let i = 0; i < AGGREGATED; i++) served = await infer(`agg-${i}`);
    await waitFor(statsInferences, (n) => n === AGGREGATED, 20_000, 'the inferences counted from heartbeats');
    // Confidence too comes from the heartbeats: every inference's, with no result stored (one input: one confidence).
    const total = await waitFor(stats, (s) => s.confidences === AGGREGATED, 20_000, 'the confidences reported');
    expect(total.results).toBe(0);
    expect(total.meanConfidence).toBeCloseTo(served?.confidence ?? NaN, 5);
    // Kept on the node, none waiting to be sent: nothing is on its way to inference_results.
    expect(await agentResults()).toMatchObject({ kept: AGGREGATED, spooled: 0 });
    expect(await storedRefs()).toEqual([]);
  });

  it('stores exactly the sampled inputRefs under sample 0.5, once the re-signed desired state reaches the node', async () => {
    const policy = { mode: 'sample' as const, rate: 0.5 };
    await t.http().put('/v1/models/policy/results-policy').set(bearer(t.adminKey)).send(policy).expect(200);
    await waitFor(agentResults, (r) => r.policy?.mode === 'sample', 15_000, 'the agent on the new policy');
    const refs = Array.from({ length: SAMPLED }, (_, i) => `smp-${String(i).padStart(3, '0')}`);
    for (const ref of refs) await infer(ref);
    const expected = refs.filter((ref) => sendsResult(policy, ref, 0)).sort();
    expect(expected.length).toBeGreaterThan(SAMPLED * 0.3); // the hash spreads: roughly half, not all or none
    expect(expected.length).toBeLessThan(SAMPLED * 0.7);
    await waitFor(statsInferences, (n) => n === AGGREGATED + SAMPLED, 20_000, 'every inference counted');
    await waitFor(async () => (await storedRefs()).length, (n) => n >= expected.length, 20_000, 'the sampled results stored');
    await waitFor(async () => (await agentResults()).spooled, (n) => n === 0, 10_000, 'the spool acknowledged');
    expect(await storedRefs()).toEqual(expected);
    expect((await agentResults()).kept).toBe(AGGREGATED + SAMPLED - expected.length);
  });

  it('asks the node for the kept results that feedback labels, and completes the accuracy join when they arrive', async () => {
    const topClass = served?.topClass ?? 0;
    const res = await t
      .http()
      .post('/v1/feedback')
      .set(bearer(t.adminKey))
      .send({ model: 'policy', version: '1.0.0', items: [{ inputRef: 'agg-5', label: topClass }, { inputRef: 'agg-6', label: (topClass + 1) % 4 }] })
      .expect(200);
    expect(res.body).toEqual({ received: 2, matched: 0, unmatched: [0, 1], pending: 2, requestedNodes: 1, rateLimitedNodes: 0 });
    const labelled = await waitFor(async () => (await stats()).feedback, (f) => f.labelled === 2, 30_000, 'the labels joined to the results the node sent');
    expect(labelled).toMatchObject({ labelled: 2, correct: 1 });
    expect((await storedRefs()).filter((ref) => ref.startsWith('agg-')).sort()).toEqual(['agg-5', 'agg-6']);
  });

  it('brings in kept results a request names, and nothing else', async () => {
    const unsampled = Array.from({ length: SAMPLED }, (_, i) => `smp-${String(i).padStart(3, '0')}`).find((ref) => !sendsResult({ mode: 'sample', rate: 0.5 }, ref, 0)) as string;
    const before = await storedRefs();
    const asked = ['agg-3', 'agg-17', unsampled, 'never-served'];
    await t.http().post(`/v1/nodes/${agent.nodeId}/results-requests`).set(bearer(t.adminKey)).send({ inputRefs: asked }).expect(202);
    const after = await waitFor(storedRefs, (refs) => refs.length === before.length + 3, 20_000, 'the requested results stored');
    expect(after.filter((ref) => !before.includes(ref)).sort()).toEqual(['agg-17', 'agg-3', unsampled].sort());
  });

  it('still has its kept results after a kill -9 and a restart', async () => {
    await agent.kill();
    await agent.restart();
    await waitFor(agentResults, (r) => r.kept > 0 && r.policy?.mode === 'sample', 30_000, 'the restarted agent with its kept results');
    const before = await storedRefs();
    await t.http().post(`/v1/nodes/${agent.nodeId}/results-requests`).set(bearer(t.adminKey)).send({ inputRefs: ['agg-30', 'agg-31'] }).expect(202);
    const after = await waitFor(storedRefs, (refs) => refs.length === before.length + 2, 30_000, 'the requested results stored');
    expect(after.filter((ref) => !before.includes(ref)).sort()).toEqual(['agg-30', 'agg-31']);
  });
});
