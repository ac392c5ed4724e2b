import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { fleetTopics } from '#protocol';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, getRollout, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel, type DenseSoftmaxModel } from '../helpers/onnx-model.js';
import { captureRetainedDesired } from '../helpers/retained-desired.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
const golden = Float32Array.from({ length: INPUTS }, (_, i) => (i % 5) / 5);
/** Live traffic: deterministic inputs in [0, 1). */
const inputAt = (n: number) => Array.from({ length: INPUTS }, (_, i) => ((n * 7919 + i * 104729) % 1000) / 1000);

interface ShadowView {
  verdict: string;
  samples: number;
  agreement: number | null;
  nodes: number;
  reason: string | null;
}

/**
 * Shadow evaluation with real agents: a candidate runs beside the serving model on live requests, and
 * activates only on the control plane's signed decision. Bounds are generous (a loaded 2-core machine);
 * every wait is on a condition.
 */
describe('shadow evaluation on real agents', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agents: AgentProcess[];
  let nodeIds: string[];
  const seed = denseSoftmaxModel(1, INPUTS);
  // Retrained: every weight nudged a little. Mostly the seed's answers.
  const good = denseSoftmaxModel(1, INPUTS, 4, { jitter: 0.01 });
  // The seed with its last layer shuffled: as confident, and wrong on every input.
  const wrong = denseSoftmaxModel(1, INPUTS, 4, { classOrder: [1, 2, 3, 0], jitter: 0.01 });

  const upload = (version: string, model: DenseSoftmaxModel) =>
    uploadVersion(t, 'digits', { version, selfTest: { input: Array.from(golden), expectedOutput: Array.from(model.reference(golden)), tolerance: 1e-4 } }, model.bytes);

  /** Sends requests to every agent until stopped (the candidate needs live traffic to be compared on). */
  const traffic = () => {
    let running = true;
    let n = 0;
    const loop = async (agent: AgentProcess) => {
      while (running) {
        await agent.infer(inputAt(n++)).catch(() => undefined); // an agent being restarted refuses a few
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const loops = agents.map(loop);
    return async () => {
      running = false;
      await Promise.all(loops);
    };
  };

  /** Every model digest the agents report while `during` runs (their local status, polled). */
  const servedDuring = async <T>(during: () => Promise<T>): Promise<{ result: T; served: Set<string>; phases: Set<string> }> => {
    const served = new Set<string>();
    const phases = new Set<string>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        for (const agent of agents) {
          const status = await agent.status().catch(() => undefined);
          if (status?.model) served.add(status.model.sha256);
          if (status) phases.add(status.phase);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      return { result: await during(), served, phases };
    } finally {
      polling = false;
      await poller;
    }
  };

  const shadowOfWave = async (rolloutId: string, wave = 0): Promise<ShadowView | undefined> =>
    ((await getRollout(t, rolloutId)) as unknown as { waves: { shadow?: ShadowView }[] }).waves[wave]?.shadow;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    await createModel(t, 'digits', INPUTS, 4);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'shadow' } });
    agents = await Promise.all([0, 1].map((i) => AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name: `shadow-${i}`, soak: { inferences: 3, seconds: 1 } })));
    nodeIds = await Promise.all(agents.map(async (a) => ((await a.status()) as unknown as { nodeId: string }).nodeId));
    // The serving model everything is compared with.
    const v1 = await upload('1.0.0', seed);
    await deploy(t, v1.id, { selector: 'fleet=shadow' });
    const stop = traffic();
    for (const agent of agents) await waitFor(() => agent.status(), (s) => s.model?.sha256 === v1.sha256 && s.phase === 'idle', 60_000, 'seed model committed');
    await stop();
  }, 120_000);

  afterAll(async () => {
    // SHADOW_E2E_LOGS=1 prints what the agents said about the shadow run (for a failing run).
    if (process.env['SHADOW_E2E_LOGS']) for (const agent of agents ?? []) console.log(agent.logs.filter((l) => /shadow|transition|refused|failed/.test(l)).join('\n'));
    await Promise.all((agents ?? []).map((a) => a.remove()));
    await t?.close();
    await broker?.stop();
  });

  it('shadows a good candidate beside the serving model, survives a kill -9 while shadowing, and activates it once the wave passes', async () => {
    const v2 = await upload('2.0.0', good);
    const before = (await agents[0]?.status())?.model?.sha256;
    const { result: rolloutId, served } = await servedDuring(async () => {
      const id = await startRollout(t, { name: 'shadow-good', modelVersionId: v2.id, selector: 'fleet=shadow', strategy: { shadow: { sampleRate: 1, minSamples: 30, minAgreement: 0.8, maxErrors: 0 } } });
      // No traffic yet: the wave cannot have its samples, so both agents wait in `shadowing`, serving the old model.
      for (const agent of agents) await waitFor(() => agent.status(), (s) => s.phase === 'shadowing', 60_000, 'shadowing');
      const killed = agents[0] as AgentProcess;
      await killed.kill();
      await killed.restart();
      // Back after the crash: shadowing again (never straight to activation), still serving the old model.
      const again = await waitFor(() => killed.status(), (s) => s.phase === 'shadowing', 60_000, 'shadowing after kill -9');
      expect(again.model?.sha256).toBe(before);
      const stop = traffic();
      try {
        for (const agent of agents) await waitFor(() => agent.status(), (s) => s.model?.sha256 === v2.sha256, 90_000, 'candidate activated');
        await waitForRolloutState(t, id, ['completed'], 90_000);
      } finally {
        await stop();
      }
      return id;
    });
    expect(served).toContain(v2.sha256);
    const shadow = await shadowOfWave(rolloutId);
    expect(shadow).toMatchObject({ verdict: 'pass', nodes: 2 });
    expect(shadow?.samples).toBeGreaterThanOrEqual(30);
    expect(shadow?.agreement).toBeGreaterThanOrEqual(0.8);
    const events = (await getRollout(t, rolloutId)) as unknown as { events: { kind: string; detail: Record<string, unknown> }[] };
    expect(events.events.filter((e) => e.kind === 'shadow-verdict').map((e) => e.detail['decision'])).toContain('activate');
  }, 300_000);

  it('stops a confidently wrong candidate before activation: the rollout halts, no node ever serves it, a forged approval is refused', async () => {
    const v3 = await upload('3.0.0', wrong);
    const serving = (await agents[0]?.status())?.model?.sha256;
    const { result: rolloutId, served } = await servedDuring(async () => {
      const id = await startRollout(t, { name: 'shadow-wrong', modelVersionId: v3.id, selector: 'fleet=shadow', strategy: { shadow: { sampleRate: 1, minSamples: 30, minAgreement: 0.8 } } });
      const nodes = await waitFor(
        async () => (await t.http().get(`/v1/rollouts/${id}/nodes`).set(bearer(t.adminKey)).expect(200)).body as { nodeId: string; deploymentId: string | null; phase: string | null; shadow: string | null }[],
        // The route tells a shadowing node from one that just self-tested (both report 'self-tested').
        (list) => list.length === 2 && list.every((n) => n.deploymentId !== null && n.phase === 'self-tested' && n.shadow === 'shadowing'),
        60_000,
        'both nodes shadowing the candidate',
      );
      for (const agent of agents) await waitFor(() => agent.status(), (s) => s.phase === 'shadowing', 60_000, 'shadowing');
      // An attacker with the broker's powers turns the retained (signed) desired state into an approval:
      // the signature no longer covers it, so the agent refuses it and keeps shadowing.
      const nodeId = nodeIds[0] as string;
      const deploymentId = nodes.find((n) => n.nodeId === nodeId)?.deploymentId as string;
      const genuine = JSON.parse((await captureRetainedDesired({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, nodeId, deploymentId)).toString()) as { desired: { signed: { shadow: Record<string, unknown> } } };
      genuine.desired.signed.shadow = { ...genuine.desired.signed.shadow, decision: 'activate' };
      const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
      await attacker.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).desired(nodeId), JSON.stringify(genuine), { qos: 1, retain: true });
      await attacker.endAsync();
      await waitFor(
        async () => (agents[0] as AgentProcess).logs.filter((l) => l.includes('refused a desired state') && l.includes(deploymentId) && l.includes('"kind":"unverified"')),
        (refusals) => refusals.length > 0,
        30_000,
        'the forged approval refused',
      );
      expect((await agents[0]?.status())?.phase).toBe('shadowing');
      const stop = traffic();
      try {
        const halted = await waitForRolloutState(t, id, ['halted'], 120_000);
        expect(halted.haltReason).toMatch(/shadow gate: the candidate agrees with the serving model on \d/);
        // Each node is told to abandon the candidate (signed) and rolls back what it staged.
        for (const agent of agents) await waitFor(() => agent.status(), (s) => s.phase === 'idle', 60_000, 'candidate abandoned');
      } finally {
        await stop();
      }
      return id;
    });
    expect(served).not.toContain(v3.sha256);
    expect(served).toContain(serving);
    const shadow = await shadowOfWave(rolloutId);
    expect(shadow?.verdict).toBe('fail');
    expect(shadow?.agreement).toBeLessThan(0.8);
    // Nothing on the control plane's side says otherwise: no node reported it active, no heartbeat named it.
    const activated = (await t.db.query(
      `SELECT count(*)::int AS n FROM deployment_status_events e JOIN deployments d ON d.id = e.deployment_id WHERE d.rollout_id = $1 AND e.state IN ('activated', 'committed')`,
      [rolloutId],
    )) as { n: number }[];
    expect(activated[0]?.n).toBe(0);
    const beats = (await t.db.query(`SELECT count(*)::int AS n FROM node_heartbeats WHERE model_sha256 = $1`, [v3.sha256])) as { n: number }[];
    expect(beats[0]?.n).toBe(0);
    // Each node said why it dropped the candidate (its statuses are stored in batches: waited for).
    await waitFor(
      async () => ((await t.http().get(`/v1/rollouts/${rolloutId}/nodes`).set(bearer(t.adminKey)).expect(200)).body as { failure: { reason: string | null } | null; shadow: string | null }[]).map((n) => `${n.shadow}:${n.failure?.reason}`),
      (reasons) => reasons.length === 2 && reasons.every((r) => r === 'abandon:shadow-failed'),
      30_000,
      'both nodes report shadow-failed',
    );
    for (const agent of agents) expect((await agent.infer(Array.from(golden))).status).toBe(200);
  }, 300_000);

  it('an operator abort while the nodes shadow cancels their update: they say cancelled, not shadow-failed, and keep serving', async () => {
    const v4 = await upload('4.0.0', denseSoftmaxModel(1, INPUTS, 4, { jitter: 0.02 }));
    const serving = (await agents[0]?.status())?.model?.sha256;
    const { result: rolloutId, served } = await servedDuring(async () => {
      // No traffic and many samples asked: no verdict can come before the abort.
      const id = await startRollout(t, { name: 'shadow-aborted', modelVersionId: v4.id, selector: 'fleet=shadow', strategy: { shadow: { sampleRate: 1, minSamples: 1000 } } });
      for (const agent of agents) await waitFor(() => agent.status(), (s) => s.phase === 'shadowing', 60_000, 'shadowing');
      await t.http().post(`/v1/rollouts/${id}/abort`).set(bearer(t.adminKey)).send({}).expect(200);
      for (const agent of agents) await waitFor(() => agent.status(), (s) => s.phase === 'idle', 60_000, 'candidate dropped');
      return id;
    });
    expect(served).not.toContain(v4.sha256);
    expect(served).toContain(serving);
    await waitFor(
      async () => ((await t.http().get(`/v1/rollouts/${rolloutId}/nodes`).set(bearer(t.adminKey)).expect(200)).body as { failure: { reason: string | null; detail: string | null } | null; shadow: string | null }[]).map((n) => `${n.shadow}:${n.failure?.reason}:${n.failure?.detail}`),
      (nodes) => nodes.length === 2 && nodes.every((n) => /^abandon:cancelled:.*its rollout stopped before a shadow verdict/.test(n)),
      30_000,
      'both nodes report cancelled',
    );
    // The wave had no verdict: the view says so, and no event claims the candidate failed the gate.
    expect(await shadowOfWave(rolloutId)).toMatchObject({ verdict: 'none' });
  }, 300_000);
});
