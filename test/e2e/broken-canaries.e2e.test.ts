import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { AgentTraffic } from '../helpers/agent-traffic.js';
import { createModel, deploy, getRollout, rolloutNodes, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel, type DenseSoftmaxModel, type DenseSoftmaxOptions } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
/** Work per inference (~4 ms on an idle core): latency is the model's, not the noise of a loaded machine. */
const UNITS = 150;
const golden = Array.from({ length: INPUTS }, (_, i) => (i % 5) / 5);
const argmax = (p: Float32Array) => p.indexOf(Math.max(...p));

/**
 * Broken canaries on real agents (issue 15, item 3): three real agent processes serve a good model under
 * steady traffic; three broken versions of it — NaN on some inputs, 5× slower, confidently wrong — are
 * each rolled out with a one-node canary wave, a long bake and health gates. Each time the gate built
 * for that failure halts the rollout in the canary wave, the canary returns to the good model, and no
 * node outside the canary ever receives, let alone runs, the broken version.
 */
describe('broken canaries on real agents', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agents: AgentProcess[];
  let traffic: AgentTraffic;
  const good = denseSoftmaxModel(1, INPUTS, 4, { computeUnits: UNITS });
  let goodVersion: { id: string; sha256: string };

  const upload = (version: string, model: DenseSoftmaxModel) =>
    uploadVersion(t, 'canaried', { version, selfTest: { input: golden, expectedOutput: Array.from(model.reference(Float32Array.from(golden))), tolerance: 1e-4 } }, model.bytes);
  const serving = async () => Promise.all(agents.map(async (a) => (await a.status()).model?.sha256));

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50', ROLLOUT_TICK_MS: '500' });
    await createModel(t, 'canaried', INPUTS, 4);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'canaries' } });
    // A short soak: the canary commits on a few good inferences, so what catches a broken model is the gate.
    agents = await Promise.all(
      [0, 1, 2].map((i) => AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name: `canary-agent-${i}`, soak: { inferences: 3, seconds: 1 } })),
    );
    goodVersion = await upload('1.0.0', good);
    await deploy(t, goodVersion.id, { selector: 'fleet=canaries' });
    await waitFor(serving, (s) => s.every((sha) => sha === goodVersion.sha256), 60_000, 'the good model on every agent');
    traffic = new AgentTraffic(agents, INPUTS, (x) => argmax(good.reference(Float32Array.from(x))));
  }, 120_000);

  afterAll(async () => {
    await traffic?.stop();
    await Promise.all((agents ?? []).map((a) => a.remove()));
    await t?.close();
    await broker?.stop();
  });

  /**
   * Rolls `model` out to a one-node canary wave (33% of three) with a bake far longer than the test waits:
   * only a gate can stop it in time. `whileCanary` runs once the canary committed the new version.
   */
  async function rollOutBroken(version: string, options: DenseSoftmaxOptions, healthGates: Record<string, unknown>, whileCanary: (canary: AgentProcess) => Promise<void> | void) {
    const broken = await upload(version, denseSoftmaxModel(1, INPUTS, 4, { computeUnits: UNITS, ...options }));
    const id = await startRollout(t, {
      modelVersionId: broken.id,
      selector: 'fleet=canaries',
      strategy: { waves: { percentages: [33, 100] }, bakeSeconds: 3600, nodeTimeoutSeconds: 300, rollbackOnHalt: true, healthGates: { windowSeconds: 30, ...healthGates } },
    });
    const nodes = await rolloutNodes(t, id);
    const canaryIds = nodes.filter((n) => n.wave === 1).map((n) => n.nodeId);
    expect(canaryIds).toHaveLength(1);
    const canary = agents.find((a) => a.nodeId === canaryIds[0]) as AgentProcess;
    await waitFor(async () => (await rolloutNodes(t, id)).find((n) => n.nodeId === canary.nodeId)?.state, (s) => s === 'succeeded', 90_000, 'the canary committed the new version');
    await whileCanary(canary);
    const halted = await waitForRolloutState(t, id, ['halted'], 180_000);
    expect(halted.currentWave).toBe(1); // still the canary wave (1-based)
    // The fleet rolls back: the canary serves the good model again, the others never left it.
    await waitFor(serving, (s) => s.every((sha) => sha === goodVersion.sha256), 90_000, 'every agent back on the good model');
    // No node outside the canary was ever sent the version, or reported serving it.
    const targeted = (await t.db.query(`SELECT DISTINCT t.node_id AS id FROM deployment_targets t JOIN deployments d ON d.id = t.deployment_id WHERE d.model_version_id = $1`, [broken.id])) as { id: string }[];
    expect(targeted.map((r) => r.id)).toEqual([canary.nodeId]);
    const ran = (await t.db.query(`SELECT DISTINCT node_id AS id FROM node_heartbeats WHERE model_sha256 = $1`, [broken.sha256])) as { id: string }[];
    expect(ran.map((r) => r.id)).toEqual([canary.nodeId]);
    expect((await rolloutNodes(t, id)).filter((n) => n.wave === 2).every((n) => n.state === 'pending')).toBe(true);
    return { halted: await getRollout(t, id), canary };
  }

  it('halts a model that answers NaN on some inputs: the agent counts them as errors and the error-rate gate fires', async () => {
    traffic.mix('training');
    const { halted } = await rollOutBroken('1.1.0', { sqrtInput: true }, { minSamples: 30, maxErrorRateIncrease: 0.05 }, () => traffic.mix('with-negatives'));
    expect(halted.haltReason).toMatch(/^error-rate gate: canary \d/);
    traffic.mix('training');
  }, 400_000);

  it('halts a model 5× slower than the one it replaces on the latency gate (canary p99 against the control group)', async () => {
    const { halted } = await rollOutBroken('1.2.0', { computeUnits: 5 * UNITS }, { minSamples: 30, maxLatencyP99Ratio: 2 }, () => undefined);
    expect(halted.haltReason).toMatch(/^latency gate: canary p99/);
  }, 400_000);

  /** Ground truth as a labelling process sends it: in batches, for results already stored, until stopped. */
  function startLabelling(): () => Promise<void> {
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        await traffic.sendFeedback(t).catch(() => 0);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    return async () => {
      stop = true;
      await loop;
    };
  }

  const ALL_GATES = { minSamples: 30, maxLatencyP99Ratio: 3, maxErrorRateIncrease: 0.05, maxConfidenceDrop: 0.1, maxAccuracyDrop: 0.2, minLabelledSamples: 30 };

  it('halts a confidently wrong model (shuffled last layer) on the accuracy gate alone: latency, errors and confidence do not see it', async () => {
    traffic.forgetLabels();
    let stopLabelling: () => Promise<void> = async () => undefined;
    const { halted } = await rollOutBroken('1.3.0', { shuffleClasses: true }, ALL_GATES, () => {
      stopLabelling = startLabelling();
    });
    await stopLabelling();
    expect(halted.haltReason).toMatch(/^accuracy gate: canary \d+\.\d% vs control \d+\.\d%/);
    // The stats route shows why the other gates passed (same confidence, no errors) and what this one saw.
    const stats = (await t.http().get(`/v1/rollouts/${halted.id}/stats`).set(bearer(t.adminKey)).expect(200)).body as {
      canary: { errors: number; meanConfidence: number };
      control: { meanConfidence: number };
      accuracy: { canary: { labelled: number; accuracy: number }; control: { labelled: number; accuracy: number } };
    };
    expect(stats.canary.errors).toBe(0);
    expect(Math.abs(stats.canary.meanConfidence - stats.control.meanConfidence)).toBeLessThan(0.1);
    expect(stats.accuracy.canary.labelled).toBeGreaterThanOrEqual(30);
    expect(stats.accuracy.control.accuracy - stats.accuracy.canary.accuracy).toBeGreaterThan(0.2);
  }, 400_000);

  it('lets a good candidate through the same gates: every gate passes at the end of the bake and the rollout completes', async () => {
    traffic.forgetLabels();
    const stopLabelling = startLabelling();
    // The good model's weights again as a new version: the accuracy gate must not fire on it.
    const candidate = await upload('1.4.0', good);
    const id = await startRollout(t, {
      modelVersionId: candidate.id,
      selector: 'fleet=canaries',
      // The window lies within the bake, so the verdict at its end judges the candidate's traffic only; at ~20
      // requests a second per agent it holds well over minSamples even on a loaded machine.
      strategy: { waves: { percentages: [33, 100] }, bakeSeconds: 20, nodeTimeoutSeconds: 300, healthGates: { ...ALL_GATES, windowSeconds: 15 } },
    });
    const done = await waitForRolloutState(t, id, ['completed', 'halted'], 240_000);
    await stopLabelling();
    expect(done.haltReason).toBeNull();
    expect(done.state).toBe('completed');
    const verdicts = (await t.db.query(`SELECT payload FROM events WHERE type = 'rollout.gate-verdict' AND rollout_id = $1`, [id])) as { payload: { verdict: string; reason?: string } }[];
    expect(verdicts.map((v) => v.payload)).toEqual([{ wave: 1, verdict: 'pass' }]);
  }, 400_000);
});
