import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createModel, enrolNodes, rolloutNodes, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { type ModelRef, SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Identical bytes deployed as a new version (new preprocessing): the health gates must compare the
 * nodes on the new version (canary) with those still on the old one (control). Attributed by digest,
 * every node looked like a canary, there was no control group, and the gates passed whatever the canary did.
 */
describe('rollout health gates when the new version has the bytes of the old one', () => {
  let broker: TestBroker;
  let t: TestApp;
  let v1: { id: string; sha256: string };
  let v1b: { id: string; sha256: string };
  let fleet: SimulatedFleet | undefined;
  let label = 0;

  const group = async (count: number) => {
    const ids = await enrolNodes(t, count, { group: `same${++label}` });
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids);
    return { selector: `group=same${label}`, fleet };
  };
  const waitForState = (id: string, states: string[], timeoutMs?: number) => waitForRolloutState(t, id, states, timeoutMs);
  const onNewVersion = (model: ModelRef | null) => model?.version === '1.1.0';

  /** Starts the gated rollout of v1b over nodes on v1 while they heartbeat; resolves with the rollout once it settles. */
  const gatedRollout = async (
    healthGates: Record<string, number>,
    latencyMs: (model: ModelRef | null) => number,
    errors: (model: ModelRef | null) => number,
    confidence: (model: ModelRef) => number = () => 0.9,
  ) => {
    const { selector, fleet } = await group(20);
    await waitForState(await startRollout(t, { modelVersionId: v1.id, selector }), ['completed']);
    const beating = setInterval(() => {
      void fleet.heartbeat((_sha, model) => latencyMs(model), 50, errors).catch(() => undefined);
      void fleet.results(confidence).catch(() => undefined);
    }, 200);
    try {
      const id = await startRollout(t, {
        modelVersionId: v1b.id,
        selector,
        strategy: { waves: { percentages: [20, 100] }, bakeSeconds: 30, healthGates: { minSamples: 100, windowSeconds: 5, ...healthGates } },
      });
      return { id, settled: await waitForState(id, ['halted', 'completed'], 25_000) };
    } finally {
      clearInterval(beating);
    }
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
    await createModel(t, 'digits', 8, 4);
    const bytes = denseSoftmaxModel(1, 8).bytes;
    v1 = await uploadVersion(t, 'digits', { version: '1.0.0' }, bytes);
    v1b = await uploadVersion(t, 'digits', { version: '1.1.0', preprocessing: { scale: 0.5 } }, bytes);
    expect(v1b.sha256).toBe(v1.sha256);
  }, 60_000);

  afterEach(async () => {
    await fleet?.stop();
    fleet = undefined;
  });

  afterAll(async () => {
    await t.close();
    await broker.stop();
  });

  it('halts on the latency gate: the canary p99 is compared with the control nodes on the old version, not averaged with them', async () => {
    const { id, settled } = await gatedRollout({ maxLatencyP99Ratio: 2 }, (m) => (onNewVersion(m) ? 50 : 10), () => 0);
    expect(settled.state).toBe('halted');
    expect(settled.haltReason).toMatch(/^latency gate: canary p99 50\.00 ms is 5\.00× control 10\.00 ms/);
    expect((await rolloutNodes(t, id)).filter((n) => n.wave === 2 && n.state !== 'pending')).toEqual([]);
  });

  it('halts on the error-rate gate: the canary errors are not diluted by the control nodes on the old version', async () => {
    const { settled } = await gatedRollout({ maxErrorRateIncrease: 0.05 }, () => 10, (m) => (onNewVersion(m) ? 10 : 0));
    expect(settled.state).toBe('halted');
    expect(settled.haltReason).toMatch(/^error-rate gate: canary 20\.00% vs control 0\.00%/);
  });

  it('halts on the confidence gate: results count for the version they were served with (model_version_id), not their digest', async () => {
    const { settled } = await gatedRollout({ maxConfidenceDrop: 0.1 }, () => 10, () => 0, (m) => (onNewVersion(m) ? 0.5 : 0.9));
    expect(settled.state).toBe('halted');
    expect(settled.haltReason).toMatch(/^confidence gate: canary mean 0\.500 vs control 0\.900/);
  });
});
