import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FAILPOINTS } from '../../apps/agent/src/update/failpoints.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const RUNS = Number(process.env['CRASH_RUNS'] ?? 50);
const INPUTS = 16;
/** Artifacts of ~2 MB (16 chunks) so that kills land in the download as well as in later steps. */
const PAD_BYTES = 2 * 1024 * 1024;

describe(`fault injection: kill -9 at every step of an update and at random instants, ${RUNS} runs`, () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;
  const versions = new Map<string, { id: string; version: string }>(); // sha256 → version

  async function release(n: number): Promise<{ id: string; sha256: string }> {
    const model = denseSoftmaxModel(100 + n, INPUTS, 4, { padBytes: PAD_BYTES });
    const golden = Float32Array.from({ length: INPUTS }, (_, i) => i / INPUTS);
    const res = await t
      .http()
      .post('/v1/models/crash/versions')
      .set(bearer(t.adminKey))
      .field('version', `1.0.${n}`)
      .field('variant', 'fp32')
      .field('format', 'onnx')
      .field('engine', 'onnxruntime')
      .field('selfTest', JSON.stringify({ input: Array.from(golden), expectedOutput: Array.from(model.reference(golden)), tolerance: 1e-4 }))
      .attach('artifact', model.bytes, 'model.onnx')
      .expect(201);
    versions.set(res.body.sha256, { id: res.body.id, version: `1.0.${n}` });
    await t.http().post('/v1/deployments').set(bearer(t.adminKey)).send({ modelVersionId: res.body.id, nodeIds: [agent.nodeId] }).expect(201);
    return res.body as { id: string; sha256: string };
  }

  /** Idle with a model, and the heartbeat stored in the control plane names that model. */
  async function settled(): Promise<string> {
    const status = await waitFor(() => agent.status(), (s) => s.phase === 'idle' && s.model !== null, 30_000, 'agent settled');
    const served = status.model?.sha256 as string;
    const expected = versions.get(served)?.id;
    await waitFor(
      async () => (await t.db.query('SELECT current_model_version_id AS id FROM nodes WHERE id = $1', [agent.nodeId])) as { id: string | null }[],
      (rows) => rows[0]?.id === expected,
      10_000,
      'heartbeat naming the served model',
    );
    return served;
  }

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '20' });
    await t
      .http()
      .post('/v1/models')
      .set(bearer(t.adminKey))
      .send({ name: 'crash', task: 'classification', inputSpec: { name: 'input', shape: [1, INPUTS] }, outputSpec: { name: 'probabilities', shape: [1, 4] } })
      .expect(201);
    const { token } = await createEnrollmentToken(t);
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1_000_000, seconds: 0.3 }, heartbeatSeconds: 0.2, stallSeconds: 0.5 });
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  it('always comes back serving exactly one complete, signature-valid model that the heartbeat names', async () => {
    const first = await release(0);
    expect(await settled()).toBe(first.sha256);
    const phasesAtKill: Record<string, number> = {};
    let served = first.sha256;
    for (let run = 1; run <= RUNS; run++) {
      // Even runs: the agent kills itself at the next failpoint in turn (a power cut at an exact step);
      // odd runs: kill -9 from outside at a random instant.
      const point = run % 2 === 0 ? FAILPOINTS[(run / 2 - 1) % FAILPOINTS.length] : undefined;
      if (point) {
        await agent.kill();
        await agent.restart([point]);
      }
      const next = await release(run);
      if (point) {
        await agent.exited();
        phasesAtKill[point] = (phasesAtKill[point] ?? 0) + 1;
      } else {
        await new Promise((r) => setTimeout(r, Math.random() * 900));
        const record = JSON.parse(await readFile(join(agent.stateDir, 'state', 'update.json'), 'utf8').catch(() => '{}')) as { phase?: string };
        await agent.kill();
        const key = `random:${record.phase ?? 'none'}`;
        phasesAtKill[key] = (phasesAtKill[key] ?? 0) + 1;
      }
      // The agent re-verifies the active slot (digest and signatures) before it serves at all.
      await agent.restart();
      const now = await settled();
      expect([served, next.sha256]).toContain(now);
      const answer = await agent.infer(Array.from({ length: INPUTS }, () => 0.5));
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { model: { sha256: string } }).model.sha256).toBe(now);
      served = now;
    }
    console.log(`kill -9 runs: ${RUNS}; phase at the kill: ${JSON.stringify(phasesAtKill)}; final ${versions.get(served)?.version}`);
  }, 600_000);
});
