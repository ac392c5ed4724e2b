import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { readFile, writeFile } from 'node:fs/promises';
import { toTfjsBundle } from '#inference';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { denseSoftmaxModel, denseSoftmaxTflite, type DenseSoftmaxModel } from '../helpers/onnx-model.js';
import { createModel, deploy as deployTo, resignWithExpectedOutput, uploadVersion } from '../helpers/fleet.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
const golden = Float32Array.from({ length: INPUTS }, (_, i) => (i % 5) / 5);

describe('agents against the real control plane over the real broker', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agents: AgentProcess[];
  const v1 = denseSoftmaxModel(1, INPUTS);

  const upload = (version: string, model: DenseSoftmaxModel, expected = Array.from(model.reference(golden)), preprocessing: Record<string, unknown> = {}) =>
    uploadVersion(t, 'digits', { version, selfTest: { input: Array.from(golden), expectedOutput: expected, tolerance: 1e-4 }, preprocessing }, model.bytes);
  const deploy = (modelVersionId: string) => deployTo(t, modelVersionId, { selector: 'fleet=e2e' });

  const targetStates = async (deploymentId: string) => {
    const res = await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200);
    return (res.body.targets as { state: string | null; reason: string | null }[]).map((x) => `${x.state}${x.reason ? `:${x.reason}` : ''}`);
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    await createModel(t, 'digits', INPUTS, 4);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'e2e' } });
    // A soak long enough for the soak test to send its failing inference first.
    agents = await Promise.all(
      [0, 1, 2].map((i) => AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name: `agent-${i}`, soak: { inferences: 3, seconds: 5 } })),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all((agents ?? []).map((a) => a.remove()));
    await t?.close();
    await broker?.stop();
  });

  it('activates a signed model on three agents, applies its declared preprocessing, and the heartbeat names it', async () => {
    // The manifest says: scale inputs by 0.5 before the model. Golden output and answers must reflect it.
    const scaled = golden.map((x) => x * 0.5);
    const version = await upload('1.0.0', v1, Array.from(v1.reference(scaled)), { scale: 0.5 });
    const deployment = await deploy(version.id);
    for (const agent of agents) {
      await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256, 30_000, 'model active');
      // Feed the soak: inferences on the new model, with outputs equal to the reference.
      const res = await agent.infer(Array.from(golden));
      expect(res.status).toBe(200);
      const body = (await res.json()) as { output: number[]; model: { sha256: string } };
      body.output.forEach((v, i) => expect(Math.abs(v - (v1.reference(scaled)[i] as number))).toBeLessThan(1e-5));
      for (let i = 0; i < 3; i++) await agent.infer(Array.from(golden));
    }
    await waitFor(() => targetStates(deployment.id), (s) => s.every((x) => x === 'committed'), 30_000, 'all committed');
    const rows = await waitFor(
      async () => (await t.db.query(`SELECT count(*)::int AS n FROM nodes WHERE current_model_version_id = $1`, [version.id])) as { n: number }[],
      (r) => r[0]?.n === 3,
      10_000,
      'heartbeats naming the model',
    );
    expect(rows[0]?.n).toBe(3);
  });

  it('refuses a tampered artifact; the old model keeps serving', async () => {
    const v2 = denseSoftmaxModel(2, INPUTS);
    const version = await upload('1.1.0', v2);
    // Tamper with the stored bytes after signing: what the nodes receive no longer matches the manifest.
    const store = t.app.get((await import('../../apps/control-plane/src/artifacts/artifact-store.js')).ArtifactStore);
    const { FsArtifactStore } = await import('../../apps/control-plane/src/artifacts/fs-artifact-store.js');
    if (!(store instanceof FsArtifactStore)) throw new Error('this test tampers with the fs store');
    const path = store.pathFor(version.sha256);
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
    await writeFile(path, bytes);
    const deployment = await deploy(version.id);
    await waitFor(() => targetStates(deployment.id), (s) => s.every((x) => x === 'rolled-back:hash-mismatch'), 30_000, 'all refused');
    for (const agent of agents) {
      expect((await agent.status()).model?.version).toBe('1.0.0');
      expect((await agent.infer(Array.from(golden))).status).toBe(200);
    }
  });

  it('rolls back when the soak fails (failed inferences on the new model), and says so', async () => {
    const bad = denseSoftmaxModel(4, INPUTS, 4, { sqrtInput: true });
    const version = await upload('1.3.0', bad); // passes the golden self-test (non-negative input)
    const deployment = await deploy(version.id);
    const negative = Array.from({ length: INPUTS }, () => -1);
    for (const agent of agents) {
      await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256, 30_000, 'new model active');
      expect((await agent.infer(negative)).status).toBe(500); // NaN output: a failed inference
    }
    await waitFor(() => targetStates(deployment.id), (s) => s.every((x) => x === 'rolled-back:soak-failed'), 30_000, 'all rolled back');
    for (const agent of agents) {
      expect((await agent.status()).model?.version).toBe('1.0.0');
      expect((await agent.infer(Array.from(golden))).status).toBe(200);
    }
  });

  const tfjsBundle = async () => {
    await tf.setBackend('cpu');
    const layers = tf.sequential({ layers: [tf.layers.dense({ inputShape: [INPUTS], units: 4, activation: 'softmax' })] });
    layers.setWeights([tf.tensor2d(v1.weights, [INPUTS, 4]), tf.tensor1d(v1.bias)]);
    return toTfjsBundle(layers);
  };
  const otherEngines = [
    { title: 'TensorFlow.js', version: '2.0.0', format: 'tfjs', engine: 'tfjs', bytes: tfjsBundle },
    { title: 'LiteRT (TFLite)', version: '2.1.0', format: 'tflite', engine: 'litert', bytes: async () => Buffer.from(denseSoftmaxTflite(v1)) },
  ] as const;

  it.each(otherEngines)('runs a $title version of the same weights, with outputs that agree with ONNX Runtime', async ({ version: semver, format, engine, bytes }) => {
    const scaled = golden.map((x) => x * 0.5);
    const version = await uploadVersion(
      t,
      'digits',
      {
        version: semver,
        variant: format,
        format,
        engine,
        selfTest: { input: Array.from(golden), expectedOutput: Array.from(v1.reference(scaled)), tolerance: 1e-4 },
        preprocessing: { scale: 0.5 },
      },
      await bytes(),
    );
    const deployment = await deploy(version.id);
    await waitFor(() => targetStates(deployment.id), (s) => s.every((x) => x === 'committed' || x === 'soaking' || x === 'activated'), 30_000, `${engine} active`);
    for (const agent of agents) {
      await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256, 30_000, `${engine} model serving`);
      const body = (await (await agent.infer(Array.from(golden))).json()) as { output: number[] };
      body.output.forEach((v, i) => expect(Math.abs(v - (v1.reference(scaled)[i] as number))).toBeLessThan(1e-5));
    }
  });

  it('downloads and self-tests at once but activates only when the rollout\'s maintenance window opens', async () => {
    const v4 = denseSoftmaxModel(4, INPUTS);
    const version = await upload('4.0.0', v4);
    // A window opening 15 s from now (6-field cron, to the second, UTC), for one minute: time enough for
    // every agent to download and self-test (about a second each) even on a loaded machine.
    const opens = new Date(Math.ceil((Date.now() + 15_000) / 1000) * 1000);
    const cron = `${opens.getUTCSeconds()} ${opens.getUTCMinutes()} ${opens.getUTCHours()} ${opens.getUTCDate()} ${opens.getUTCMonth() + 1} *`;
    const res = await t
      .http()
      .post('/v1/rollouts')
      .set(bearer(t.adminKey))
      .send({ name: 'windowed', modelVersionId: version.id, selector: 'fleet=e2e', strategy: { maintenanceWindow: { cron, durationMinutes: 1, timezone: 'UTC' } } })
      .expect(201);
    await t.http().post(`/v1/rollouts/${res.body.id}/start`).set(bearer(t.adminKey)).send({}).expect(200);
    const waiting = async () =>
      (await t.db.query(`SELECT count(DISTINCT node_id)::int AS n FROM deployment_status_events WHERE state = 'self-tested' AND detail LIKE 'waiting for the activation window%'`)) as { n: number }[];
    await waitFor(waiting, (rows) => rows[0]?.n === 3, opens.getTime() - Date.now(), 'all three self-tested and waiting before the window opens');
    expect(Date.now()).toBeLessThan(opens.getTime());
    // Still an older model: the previous test's version, or (if it was still soaking when this desired
    // state arrived, which pre-empts a soak) the one before it.
    expect(await Promise.all(agents.map(async (a) => (await a.status()).model?.sha256))).not.toContain(version.sha256);
    for (const agent of agents) {
      await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256, 30_000, 'active after the window opened');
      expect(Date.now()).toBeGreaterThanOrEqual(opens.getTime());
      for (let i = 0; i < 3; i++) await agent.infer(Array.from(golden)); // feed the soak
    }
    await waitFor(async () => (await t.http().get(`/v1/rollouts/${res.body.id}`).set(bearer(t.adminKey))).body.state, (s) => s === 'completed', 30_000, 'rollout completed');
  });

  it('rolls back when the self-test fails, and says so', async () => {
    const v3 = denseSoftmaxModel(3, INPUTS);
    const before = await Promise.all(agents.map(async (a) => (await a.status()).model?.version));
    const version = await upload('3.0.0', v3);
    // A golden output this model does not give: the upload check refuses it, so the manifest is re-signed.
    await resignWithExpectedOutput(t, version.id, [0.25, 0.25, 0.25, 0.25]);
    const deployment = await deploy(version.id);
    await waitFor(() => targetStates(deployment.id), (s) => s.every((x) => x === 'rolled-back:self-test-failed'), 30_000, 'all rolled back');
    expect(await Promise.all(agents.map(async (a) => (await a.status()).model?.version))).toEqual(before);
  });
});
