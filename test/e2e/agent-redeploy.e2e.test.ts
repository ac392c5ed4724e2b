import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, getRollout, resignWithExpectedOutput, rolloutNodes, startRollout, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { retainedDesired } from '../helpers/retained-desired.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
const LIFETIME_S = 4;

/**
 * Real agents (their own anti-rollback and expiry checks) against the real control plane: a finished
 * rollout rolled back, older versions deployed again, and a node offline for longer than a desired
 * state's lifetime still converging when it returns.
 */
describe('agents: rollback, re-deploys and long absences', () => {
  let broker: TestBroker;
  let t: TestApp;
  let online: AgentProcess;
  let away: AgentProcess;

  const upload = (version: string, seed: number) => uploadVersion(t, 'redeploy', { version }, denseSoftmaxModel(seed, INPUTS).bytes);
  const targetStates = async (deploymentId: string) =>
    ((await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null; reason: string | null }[]).map(
      (x) => `${x.state}${x.reason ? `:${x.reason}` : ''}`,
    );
  const settled = (deploymentId: string) => waitFor(() => targetStates(deploymentId), (s) => s.every((x) => ['committed', 'failed', 'rolled-back'].includes(x.split(':')[0] as string) || x.startsWith('rejected')), 30_000, 'outcome');
  const runs = (agent: AgentProcess, sha256: string) => waitFor(() => agent.status(), (s) => s.model?.sha256 === sha256 && s.phase === 'idle', 30_000, `agent runs ${sha256.slice(0, 8)}`);
  const recorded = (agent: AgentProcess, versionId: string) =>
    waitFor(
      async () => ((await t.db.query(`SELECT current_model_version_id AS v FROM nodes WHERE id = $1`, [agent.nodeId])) as { v: string | null }[])[0]?.v,
      (v) => v === versionId,
      10_000,
      'current version recorded',
    );

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50', DESIRED_STATE_TTL_SECONDS: String(LIFETIME_S) });
    await createModel(t, 'redeploy', INPUTS, 4);
    const agent = async (name: string) => {
      const { token } = await createEnrollmentToken(t, { labels: { who: name } });
      return AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name, soak: { inferences: 1, seconds: 0.2 } });
    };
    [online, away] = await Promise.all([agent('online'), agent('away')]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([online?.remove(), away?.remove()]);
    await t?.close();
    await broker?.stop();
  });

  it('rolls back a completed rollout, then deploys a version uploaded before the rollback and the newer one again', async () => {
    const v1 = await upload('1.0.0', 31);
    const v2 = await upload('2.0.0', 32);
    expect(await settled((await deploy(t, v1.id, { nodeIds: [online.nodeId] })).id)).toEqual(['committed']);
    await runs(online, v1.sha256);
    await recorded(online, v1.id);

    const upgrade = await startRollout(t, { modelVersionId: v2.id, selector: 'who=online' });
    await waitFor(() => getRollout(t, upgrade), (r) => r.state === 'completed', 60_000, 'upgrade completed');
    await runs(online, v2.sha256);
    await recorded(online, v2.id);

    const v3 = await upload('3.0.0', 33); // uploaded before the rollback, never deployed
    await t.http().post(`/v1/rollouts/${upgrade}/rollback`).set(bearer(t.adminKey)).send({ reason: 'e2e' }).expect(200);
    await waitFor(() => rolloutNodes(t, upgrade), (ns) => ns.length === 1 && ns[0]?.state === 'reverted', 60_000, 'reverted');
    await runs(online, v1.sha256);

    expect(await settled((await deploy(t, v3.id, { nodeIds: [online.nodeId] })).id)).toEqual(['committed']);
    await runs(online, v3.sha256);
    // v2 is older than v3 and its first signature is older than the rollback: re-issued, accepted.
    expect(await settled((await deploy(t, v2.id, { nodeIds: [online.nodeId] })).id)).toEqual(['committed']);
    await runs(online, v2.sha256);
  });

  it('after a fleet rollback on a failed self-test, a version uploaded before it still deploys; the halt names the failure', async () => {
    const golden = Array.from({ length: INPUTS }, (_, i) => (i % 5) / 5);
    const good = await upload('5.0.0', 35);
    const newer = await upload('7.0.0', 37); // uploaded before the rollback, never deployed until the end
    const model = denseSoftmaxModel(36, INPUTS);
    const broken = await uploadVersion(t, 'redeploy', { version: '6.0.0', selfTest: { input: golden, expectedOutput: Array.from(model.reference(Float32Array.from(golden))), tolerance: 1e-6 } }, model.bytes);
    // A golden output this model does not give: the upload check would refuse it, so the manifest is re-signed.
    await resignWithExpectedOutput(t, broken.id, [1, 0, 0, 0]);
    expect(await settled((await deploy(t, good.id, { nodeIds: [online.nodeId] })).id)).toEqual(['committed']);
    await runs(online, good.sha256);
    await recorded(online, good.id);

    const id = await startRollout(t, { modelVersionId: broken.id, selector: 'who=online', strategy: { failureThreshold: { count: 1 }, rollbackOnHalt: true } });
    const halted = await waitFor(() => getRollout(t, id), (r) => r.state === 'halted', 60_000, 'halted');
    expect(halted.haltReason).toMatch(/^failure threshold: 1 nodes failed \(max 0\) — node online: \S+:self-test-failed: .+/);
    const [node] = (await t.http().get(`/v1/rollouts/${id}/nodes`).set(bearer(t.adminKey)).expect(200)).body as { failure: { reason: string; detail: string } | null }[];
    // The failure stays visible while the node is sent back (the revert's own deployment is its phase).
    expect(node).toMatchObject({ failure: { reason: 'self-test-failed', detail: expect.stringContaining('golden output') } });
    await waitFor(() => rolloutNodes(t, id), (ns) => ns[0]?.state === 'reverted', 60_000, 'reverted');
    await runs(online, good.sha256);

    expect(await settled((await deploy(t, newer.id, { nodeIds: [online.nodeId] })).id)).toEqual(['committed']);
    await runs(online, newer.sha256);
  });

  it('a node offline for longer than a desired state lives still converges when it returns, and its outcome stays', async () => {
    const v = await upload('4.0.0', 34);
    await away.stop();
    const deployment = await deploy(t, v.id, { nodeIds: [away.nodeId] });
    const first = await waitFor(() => retainedDesired({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, away.nodeId), (d) => d?.deploymentId === deployment.id, 10_000, 'retained desired state');
    expect(first && first.expires - first.issued).toBe(LIFETIME_S * 1000);
    // Still away once the document it was first sent has expired: the broker holds a re-signed one.
    await waitFor(() => retainedDesired({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, away.nodeId), (d) => d !== undefined && first !== undefined && d.issued > first.expires, 20_000, 'a re-signed desired state');

    await away.restart();
    await runs(away, v.sha256);
    expect(await settled(deployment.id)).toEqual(['committed']);

    // Away again past another lifetime, then back: the outcome it reported is never overwritten.
    await away.stop();
    const stoppedAt = Date.now();
    await waitFor(() => retainedDesired({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, away.nodeId), (d) => d !== undefined && d.issued > stoppedAt + LIFETIME_S * 1000, 20_000, 'another re-signed desired state');
    await away.restart();
    await waitFor(() => away.status(), (s) => s.model?.sha256 === v.sha256 && s.phase === 'idle', 30_000, 'back');
    expect(await targetStates(deployment.id)).toEqual(['committed']);
    const refusals = (await t.db.query(`SELECT reason, detail, deployment_id = $2 AS same FROM deployment_status_events WHERE node_id = $1 AND state = 'rejected'`, [away.nodeId, deployment.id])) as unknown[];
    expect(refusals).toEqual([]);
  });
});
