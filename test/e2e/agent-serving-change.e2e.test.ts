import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
const golden = Array.from({ length: INPUTS }, (_, i) => (i % 5) / 5);

/**
 * The same bytes under a manifest that changes how they are fed (preprocessing) are a new model for
 * the soak: not adopted as a metadata-only swap, soaked before commit.
 */
describe('same bytes, other serving manifest, on a real agent', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;
  const model = denseSoftmaxModel(1, INPUTS, 4);

  const upload = (version: string, preprocessing: Record<string, unknown>, scale: number) =>
    uploadVersion(
      t,
      'serving-change',
      { version, preprocessing, selfTest: { input: golden, expectedOutput: Array.from(model.reference(Float32Array.from(golden, (x) => x * scale))), tolerance: 1e-4 } },
      model.bytes,
    );
  const target = async (deploymentId: string) => {
    const res = await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200);
    return (res.body.targets as { state: string | null }[])[0];
  };
  const feedSoak = async () => {
    for (let i = 0; i < 3; i++) expect((await agent.infer(golden)).status).toBe(200);
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    await createModel(t, 'serving-change', INPUTS, 4);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'serving-change' } });
    // The soak ends only on good inferences (its time bound is far away): a commit shows the test fed it.
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 3, seconds: 3600 }, stallSeconds: 3 });
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  it('soaks the same bytes again when the new manifest changes their preprocessing', async () => {
    const v1 = await upload('1.0.0', {}, 1);
    const first = await deploy(t, v1.id, { nodeIds: [agent.nodeId] });
    await waitFor(() => agent.status(), (s) => s.model?.version === '1.0.0' && s.phase === 'soaking', 30_000, '1.0.0 soaking');
    await feedSoak();
    await waitFor(() => target(first.id), (x) => x?.state === 'committed', 30_000, '1.0.0 committed');

    const v2 = await upload('1.1.0', { scale: 2 }, 2);
    expect(v2.sha256).toBe(v1.sha256);
    const second = await deploy(t, v2.id, { nodeIds: [agent.nodeId] });
    await waitFor(() => agent.status(), (s) => s.model?.version === '1.1.0' && s.phase === 'soaking', 30_000, '1.1.0 soaking');
    await feedSoak();
    await waitFor(() => target(second.id), (x) => x?.state === 'committed', 30_000, '1.1.0 committed');
    expect((await agent.status()).model?.version).toBe('1.1.0');
  });

  it('commits a second deployment of the version the node already runs (no rollback refusal)', async () => {
    const versions = (await t.http().get('/v1/models/serving-change/versions').set(bearer(t.adminKey)).expect(200)).body as { id: string; version: string }[];
    const running = versions.find((v) => v.version === '1.1.0');
    expect(running).toBeDefined();
    const again = await deploy(t, running?.id ?? '', { nodeIds: [agent.nodeId] });
    const outcome = await waitFor(() => target(again.id), (x) => x?.state === 'committed' || x?.state === 'rejected' || x?.state === 'failed', 30_000, 'the second deployment settled').catch((error: unknown) => {
      throw new Error(`${String(error)}\n${agent.logs.slice(-15).join('\n')}`);
    });
    expect(outcome?.state).toBe('committed');
    expect((await agent.status()).model?.version).toBe('1.1.0');
  });
});
