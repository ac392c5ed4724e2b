import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MqttConnection } from '../../apps/control-plane/src/messaging/mqtt-connection.js';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, getRollout, rolloutNodes, seedNodes, startRollout, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 8;
const SIMULATED = 1000;
const AGENTS = 3;
const RESTARTS = 20;
const LABEL = { fleet: 'broker-restarts' };

/**
 * The broker is restarted (SIGTERM, persistence on, as a package upgrade or a crash-restarting service
 * would) 20 times while a rollout goes to 1,000 simulated nodes and 3 real agents, and while the nodes
 * send results: every rollout resumes and completes, each node gets the version once, every status is
 * stored once, and no result the control plane acknowledged is lost or stored twice (by node and seq).
 * The real agents serve requests throughout; every one they answered is stored exactly once.
 */
describe('Mosquitto restarted 20 times during a rollout to 1,000 simulated nodes and 3 real agents', () => {
  let broker: TestBroker;
  let t: TestApp;
  let fleet: SimulatedFleet | undefined;
  const agents: AgentProcess[] = [];
  let serving = true;
  /** Each phase's seconds, printed at the end even when the test fails: where this suite's time goes. */
  const phases: string[] = [];
  let mark = Date.now();
  const phase = (name: string) => {
    phases.push(`${name} ${((Date.now() - mark) / 1000).toFixed(1)} s`);
    mark = Date.now();
  };

  beforeAll(async () => {
    mark = Date.now();
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    await createModel(t, 'restarts', INPUTS, 4);
    phase('broker and control plane up');
  }, 120_000);

  afterAll(async () => {
    console.log(`phases: ${phases.join(', ')}`);
    serving = false;
    await Promise.all(agents.map((a) => a.remove()));
    await fleet?.stop();
    await t?.close();
    await broker?.stop();
  });

  /** Sends requests to the agents round-robin until told to stop; counts answers per agent and refusals. */
  function serve(): { done: Promise<void>; served: Map<string, number>; refused: string[] } {
    const served = new Map<string, number>();
    const refused: string[] = [];
    const done = (async () => {
      for (let i = 0; serving; i++) {
        const agent = agents[i % agents.length] as AgentProcess;
        const n = served.get(agent.nodeId) ?? 0;
        const res = await fetch(`${agent.url}/v1/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ input: Array.from({ length: INPUTS }, (_, k) => ((i + k) % 10) / 10), inputRef: `${agent.nodeId}-${n}` }),
        });
        await res.arrayBuffer();
        if (res.status === 200) served.set(agent.nodeId, n + 1);
        else refused.push(`${agent.nodeId}: ${res.status}`);
      }
    })();
    return { done, served, refused };
  }

  it('resumes the rollout, deploys every node once, stores every status once and loses no acknowledged result', async () => {
    const v1 = await uploadVersion(t, 'restarts', { version: '1.0.0' }, denseSoftmaxModel(41, INPUTS).bytes);
    const v2 = await uploadVersion(t, 'restarts', { version: '2.0.0' }, denseSoftmaxModel(42, INPUTS).bytes);
    const { token } = await createEnrollmentToken(t, { maxUses: AGENTS, labels: LABEL });
    agents.push(...(await Promise.all(Array.from({ length: AGENTS }, () => AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1, seconds: 0.5 } })))));
    // The agents serve v1 before the faults start, so requests have a model to answer with throughout.
    await deploy(t, v1.id, { nodeIds: agents.map((a) => a.nodeId) });
    for (const agent of agents) await waitFor(() => agent.status(), (s) => s.model?.version === '1.0.0' && s.phase === 'idle', 60_000, 'v1 active');
    phase('agents serving v1');

    // Straight into PostgreSQL: this test is about what follows enrolment, on an anonymous broker.
    const simulated = await seedNodes(t, SIMULATED, LABEL);
    phase('simulated nodes seeded');
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, simulated, () => 'commit', { reconnect: true });
    const load = serve();
    // Bakes of 12 s keep the rollout running through most of the restarts (~3.3 s each): with 8 s it once
    // finished after 9 of 20 (a fresh-clone CI, 2026-12-04), below the check that most restarts hit it.
    const rollout = await startRollout(t, { modelVersionId: v2.id, selector: 'fleet=broker-restarts', strategy: { waves: { percentages: [1, 10, 50, 100] }, bakeSeconds: 12 } });
    const state = async () => (await getRollout(t, rollout)).state;

    let restartsWhileRunning = 0;
    const mqtt = t.app.get(MqttConnection);
    for (let i = 0; i < RESTARTS; i++) {
      // The fault's timing is the point, not a wait for a condition: 0.5–2 s of traffic, then 0.2–1 s down.
      // (0.3–1 s was tried to save time; under load the rollout then stalled in 2 runs of 4, not yet
      // understood, so the intervals that CI has passed with stay.)
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1500));
      if (['scheduled', 'running'].includes(await state())) restartsWhileRunning++;
      // Results from every node already running v2, sent right before the broker goes: some are in flight.
      void fleet.results(() => 0.9, 3).catch(() => undefined);
      await broker.pause();
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
      await broker.resume();
      await waitFor(async () => mqtt.connected, (up) => up, 30_000, 'the control plane reconnected');
    }
    phase('restarts');
    await waitFor(state, (s) => !['scheduled', 'running'].includes(s), 240_000, 'the rollout finished').catch(async (error: unknown) => {
      const view = await getRollout(t, rollout);
      const open = (await rolloutNodes(t, rollout)).filter((n) => n.state !== 'succeeded');
      const agentIds = new Set(agents.map((a) => a.nodeId));
      console.log(JSON.stringify({ waves: view.waves, events: view.events.slice(-5), open: open.slice(0, 10), openAgents: open.filter((n) => agentIds.has(n.nodeId)).length }));
      for (const agent of agents) console.log(agent.nodeId, JSON.stringify(await agent.status()), agent.logs.slice(-15).join('\n'));
      throw error;
    });
    phase('rollout finished');
    const finished = await getRollout(t, rollout);
    expect({ state: finished.state, haltReason: finished.haltReason }).toEqual({ state: 'completed', haltReason: null });
    // Most restarts must hit the rollout, not its aftermath (a loaded machine slows everything down).
    expect(restartsWhileRunning).toBeGreaterThanOrEqual(RESTARTS / 2);

    // Every node: v2 once, committed, and each of its statuses stored once.
    const ids = [...simulated, ...agents.map((a) => a.nodeId)];
    const nodes = await rolloutNodes(t, rollout);
    expect(nodes).toHaveLength(ids.length);
    expect(nodes.filter((n) => n.state !== 'succeeded' || n.attempts !== 1)).toEqual([]);
    expect(simulated.filter((id) => fleet?.received.get(id)?.length !== 1)).toEqual([]);
    const statuses = (await t.db.query(
      `SELECT node_id, count(*)::int AS n, count(DISTINCT seq)::int AS seqs, string_agg(state::text, ',' ORDER BY seq) AS states
         FROM deployment_status_events e JOIN deployments d ON d.id = e.deployment_id WHERE d.rollout_id = $1 AND node_id = ANY($2) GROUP BY node_id`,
      [rollout, simulated],
    )) as { node_id: string; n: number; seqs: number; states: string }[];
    expect(statuses).toHaveLength(SIMULATED);
    expect(statuses.filter((s) => s.n !== 2 || s.seqs !== 2 || s.states !== 'received,committed')).toEqual([]);
    for (const agent of agents) await waitFor(() => agent.status(), (s) => s.model?.version === '2.0.0' && s.phase === 'idle', 60_000, 'v2 active');
    phase('checks, agents serving v2');

    // Results: stop serving, let the agents' outboxes drain, then compare what is stored with what was sent.
    serving = false;
    await load.done;
    expect(load.refused).toEqual([]);
    await fleet.results(() => 0.9, 3); // one more batch with the broker up: acknowledged ones come back
    const stored = async () => {
      await t.app.get(TelemetryService).flush();
      return (await t.db.query(
        `SELECT node_id, count(*)::int AS n, count(DISTINCT seq)::int AS seqs, count(DISTINCT input_ref)::int AS refs FROM inference_results WHERE node_id = ANY($1) GROUP BY node_id`,
        [ids],
      )) as { node_id: string; n: number; seqs: number; refs: number }[];
    };
    const served = [...load.served.values()].reduce((a, b) => a + b, 0);
    expect(served).toBeGreaterThan(0);
    const rows = await waitFor(stored, (r) => agents.every((a) => r.find((x) => x.node_id === a.nodeId)?.n === load.served.get(a.nodeId)), 120_000, 'every served request stored');
    for (const agent of agents) {
      const row = rows.find((r) => r.node_id === agent.nodeId);
      // Exactly once by node and seq, and by the request's own reference.
      expect(row).toEqual({ node_id: agent.nodeId, n: load.served.get(agent.nodeId), seqs: load.served.get(agent.nodeId), refs: load.served.get(agent.nodeId) });
    }
    expect(rows.filter((r) => r.n !== r.seqs)).toEqual([]);

    const acked = [...fleet.resultsAcked].map((id) => fleet?.resultsSent.get(id)).filter((m) => m !== undefined);
    expect(acked.length).toBeGreaterThan(0);
    const present = new Set(
      ((await t.db.query(`SELECT node_id, seq::float8 AS seq FROM inference_results WHERE node_id = ANY($1)`, [simulated])) as { node_id: string; seq: number }[]).map((r) => `${r.node_id}/${r.seq}`),
    );
    const lost = acked.flatMap(({ nodeId, seqs }) => seqs.map((seq) => `${nodeId}/${seq}`)).filter((key) => !present.has(key));
    expect(lost).toEqual([]);
    phase('results drained and checked');
    console.log(`${RESTARTS} broker restarts (${restartsWhileRunning} during the rollout); ${served} requests served by ${AGENTS} agents; ${acked.length} simulated results messages acknowledged`);
  }, 600_000);
});
