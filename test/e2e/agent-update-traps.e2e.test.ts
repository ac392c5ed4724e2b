import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { createModel, deploy, getRollout, rolloutNodes, startRollout, uploadVersion } from '../helpers/fleet.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
const CHUNK_BYTES = 4096;
const golden = Array.from({ length: INPUTS }, (_, i) => (i % 5) / 5);

/**
 * Everyday update operations on a real agent: the first chunk broadcast is the one that counts, a new
 * version with known bytes activates without a download, and an abort with rollback returns the node to
 * the model it still has on disk without downloading or soaking it again.
 */
describe('update traps on a real agent', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;
  let firstDeployment = '';
  let sameBytesVersion = '';
  const others: AgentProcess[] = [];
  // Padded so the artifact takes many chunks.
  const v1 = denseSoftmaxModel(1, INPUTS, 4, { padBytes: 40 * CHUNK_BYTES });
  const v2 = denseSoftmaxModel(2, INPUTS, 4, { padBytes: 40 * CHUNK_BYTES });

  const upload = (version: string, bytes: Buffer, model = v1) =>
    uploadVersion(t, 'traps', { version, selfTest: { input: golden, expectedOutput: Array.from(model.reference(Float32Array.from(golden))), tolerance: 1e-4 } }, bytes);
  const chunkPublishes = async (mode: 'broadcast' | 'repair') => {
    const metrics = (await t.http().get('/metrics').expect(200)).text;
    return Number(new RegExp(`edgefleet_artifact_chunk_publishes_total\\{[^}]*mode="${mode}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  };
  const target = async (deploymentId: string) => {
    const res = await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200);
    return (res.body.targets as { state: string | null; reason: string | null }[])[0];
  };
  const statesReported = async (deploymentId: string) =>
    ((await t.db.query(`SELECT state FROM deployment_status_events WHERE deployment_id = $1 ORDER BY seq`, [deploymentId])) as { state: string }[]).map((r) => r.state);
  const feedSoak = async () => {
    for (let i = 0; i < 3; i++) expect((await agent.infer(golden)).status).toBe(200);
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50', CHUNK_SIZE_BYTES: String(CHUNK_BYTES) });
    await createModel(t, 'traps', INPUTS, 4);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'traps' } });
    // A soak that ends after 3 good inferences, or after 20 s: tests that want a commit feed it; the
    // rollback test aborts while the new version still soaks.
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 3, seconds: 20 }, stallSeconds: 3 });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([agent, ...others].map((a) => a?.remove()));
    await t?.close();
    await broker?.stop();
  });

  it('downloads from the first broadcast: every chunk written, no repair requested', async () => {
    const version = await upload('1.0.0', v1.bytes);
    const deployment = await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    firstDeployment = deployment.id;
    await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256, 30_000, 'v1 serving');
    await feedSoak();
    await waitFor(() => target(deployment.id), (x) => x?.state === 'committed', 30_000, 'v1 committed');
    expect(await chunkPublishes('broadcast')).toBeGreaterThan(40);
    expect(await chunkPublishes('repair')).toBe(0);
  });

  it('logs each lifecycle transition at info with node, deployment, model and version', async () => {
    const deploymentId = firstDeployment;
    const transitions = agent.logs
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      })
      .filter((entry) => entry['msg'] === 'update transition' && entry['deploymentId'] === deploymentId);
    expect(transitions.map((e) => e['to'])).toEqual(['downloading', 'verifying', 'staging', 'self-testing', 'activating', 'soaking', 'committed', 'idle']);
    for (const entry of transitions) expect(entry).toMatchObject({ level: 'info', nodeId: agent.nodeId, model: 'traps', version: '1.0.0' });
  });

  it('activates a new version with the same bytes without downloading, and reports it as running', async () => {
    const version = await upload('1.1.0', v1.bytes);
    sameBytesVersion = version.id;
    const deployment = await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    await waitFor(() => target(deployment.id), (x) => x?.state === 'committed', 30_000, 'v1.1 committed');
    expect((await agent.status()).model?.version).toBe('1.1.0');
    const answer = (await (await agent.infer(golden)).json()) as { model: { version: string } };
    expect(answer.model.version).toBe('1.1.0');
    expect(await statesReported(deployment.id)).not.toContain('downloading');
    await waitFor(
      async () => (await t.db.query(`SELECT current_model_version_id AS id FROM nodes WHERE id = $1`, [agent.nodeId])) as { id: string }[],
      (rows) => rows[0]?.id === version.id,
      10_000,
      'heartbeats naming v1.1',
    );
    // The results name the version that answered them, though both versions have the same bytes:
    // the three soak inferences on 1.0.0, the one above on 1.1.0.
    const perVersion = await waitFor(
      async () => {
        await t.app.get(TelemetryService).flush();
        return (await t.db.query(
          `SELECT mv.version, count(*)::int AS n FROM inference_results r LEFT JOIN model_versions mv ON mv.id = r.model_version_id
            WHERE r.node_id = $1 GROUP BY mv.version ORDER BY mv.version`,
          [agent.nodeId],
        )) as { version: string | null; n: number }[];
      },
      (rows) => rows.reduce((sum, r) => sum + r.n, 0) >= 4,
      10_000,
      'results of both versions stored',
    );
    expect(perVersion).toEqual([
      { version: '1.0.0', n: 3 },
      { version: '1.1.0', n: 1 },
    ]);
  });

  it('an abort with rollback during the soak returns the node to the slot it still has: no download, no second soak', async () => {
    const version = await upload('2.0.0', v2.bytes, v2);
    const rolloutId = await startRollout(t, { modelVersionId: version.id, selector: 'fleet=traps' });
    await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256 && s.phase === 'soaking', 30_000, 'v2 soaking');
    const repairsBefore = await chunkPublishes('repair');
    await t.http().post(`/v1/rollouts/${rolloutId}/abort`).set(bearer(t.adminKey)).send({ reason: 'test', rollback: true }).expect(200);
    await waitFor(() => rolloutNodes(t, rolloutId), (nodes) => nodes[0]?.state === 'reverted', 30_000, 'node reverted');
    const status = await agent.status();
    expect(status.model?.sha256).toBe(createHash('sha256').update(v1.bytes).digest('hex'));
    expect(status.model?.version).toBe('1.1.0');
    const revert = (await getRollout(t, rolloutId)).events.find((e) => e.kind === 'rollback-started');
    const revertDeployment = String(revert?.detail['deploymentId']);
    const states = await statesReported(revertDeployment);
    expect(states).toContain('committed');
    expect(states).not.toContain('downloading');
    expect(await chunkPublishes('repair')).toBe(repairsBefore);
  });

  it('an abort with rollback after the node committed reuses the previous slot: no download, no soak', async () => {
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'traps' } });
    const second = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 3, seconds: 20 }, stallSeconds: 3 });
    others.push(second);
    const v1Sha = createHash('sha256').update(v1.bytes).digest('hex');
    await deploy(t, sameBytesVersion, { nodeIds: [second.nodeId] });
    // Failed once in CI (the agent idle, no model, after 30 s) and never since: its log says why next time.
    await waitFor(() => second.status(), (s) => s.model?.sha256 === v1Sha, 30_000, 'second agent on 1.1.0').catch((error: unknown) => {
      console.log(`second agent's log:\n${second.logs.slice(-40).join('\n')}`);
      throw error;
    });
    for (let i = 0; i < 3; i++) await second.infer(golden);
    await waitFor(
      async () => (await t.db.query(`SELECT count(*)::int AS n FROM nodes WHERE current_model_version_id = $1`, [sameBytesVersion])) as { n: number }[],
      (rows) => rows[0]?.n === 2,
      30_000,
      'both nodes on 1.1.0',
    );

    // Wave 1 (one node) gets 3.0.0 and commits; wave 2 waits for a long bake, so the rollout still runs.
    const v3 = denseSoftmaxModel(3, INPUTS, 4, { padBytes: 40 * CHUNK_BYTES });
    const version = await upload('3.0.0', v3.bytes, v3);
    const rolloutId = await startRollout(t, { modelVersionId: version.id, selector: 'fleet=traps', strategy: { waves: { exponential: { first: 1, factor: 2 } }, bakeSeconds: 600 } });
    const reached = await waitFor(() => rolloutNodes(t, rolloutId), (nodes) => nodes.some((n) => n.state === 'dispatched'), 30_000, 'wave 1 dispatched');
    const nodeId = reached.find((n) => n.state === 'dispatched')?.nodeId;
    const node = [agent, second].find((a) => a.nodeId === nodeId) as AgentProcess;
    await waitFor(() => node.status(), (s) => s.model?.sha256 === version.sha256, 30_000, '3.0.0 serving');
    for (let i = 0; i < 3; i++) await node.infer(golden);
    await waitFor(() => rolloutNodes(t, rolloutId), (nodes) => nodes.some((n) => n.nodeId === nodeId && n.state === 'succeeded'), 30_000, 'wave 1 committed');

    const repairsBefore = await chunkPublishes('repair');
    const logsBefore = node.logs.length;
    await t.http().post(`/v1/rollouts/${rolloutId}/abort`).set(bearer(t.adminKey)).send({ reason: 'test', rollback: true }).expect(200);
    await waitFor(() => rolloutNodes(t, rolloutId), (nodes) => nodes.some((n) => n.nodeId === nodeId && n.state === 'reverted'), 30_000, 'node reverted');
    expect((await node.status()).model).toMatchObject({ sha256: v1Sha, version: '1.1.0' });
    const revert = (await getRollout(t, rolloutId)).events.find((e) => e.kind === 'rollback-started');
    const states = await statesReported(String(revert?.detail['deploymentId']));
    expect(states).toEqual(expect.arrayContaining(['staged', 'self-tested', 'activated', 'committed']));
    expect(states).not.toContain('downloading');
    expect(await chunkPublishes('repair')).toBe(repairsBefore);
    expect(node.logs.slice(logsBefore).some((line) => line.includes('no soak: this node committed these bytes before'))).toBe(true);
  });
});
