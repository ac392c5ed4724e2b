/**
 * Bytes on the wire and control-plane CPU per 1,000 inferences under the results policy `all` (the
 * baseline, as before policies) vs `aggregates`, measured in the same run, rounds alternating: a real
 * agent serving a real ONNX model, the real control plane (in this process) and a real Mosquitto. A
 * sniffer subscribed to the node's topics counts the payload bytes of results, heartbeats and acks.
 * CPU is this process's (the control plane plus the HTTP client issuing the inferences, the same in both
 * modes), so the ratio understates the control plane's own saving.
 *   npm run bench:build && node dist/bench/results-policy.js [rounds=3] [inferences=1000]
 */
import 'reflect-metadata';
import mqtt from 'mqtt';
import { fleetTopics } from '#protocol';
import { AgentProcess, waitFor } from '../test/helpers/agent-process.js';
import { createModel, deploy, uploadVersion } from '../test/helpers/fleet.js';
import { denseSoftmaxModel } from '../test/helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp } from '../test/helpers/test-app.js';
import { startTestBroker } from '../test/helpers/test-broker.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const INFERENCES = Number(process.argv[3] ?? 1000);
const INPUTS = 784;
const MODES = ['all', 'aggregates'] as const;
type Mode = (typeof MODES)[number];
interface Round { results: number; heartbeat: number; acks: number; cpuMs: number; wallMs: number; stored: number }

const broker = await startTestBroker();
const t = await startTestApp({ MQTT_URL: broker.url });
const agent = await (async () => {
  await createModel(t, 'bench-policy', INPUTS, 4);
  const { token } = await createEnrollmentToken(t);
  return AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, heartbeatSeconds: 1, soak: { inferences: 1_000_000, seconds: 0.2 } });
})();
const sniffer = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
try {
  const topics = fleetTopics(t.config.mqtt.fleetNamespace);
  const version = await uploadVersion(t, 'bench-policy', { version: '1.0.0' }, denseSoftmaxModel(5, INPUTS).bytes);
  const deployment = await deploy(t, version.id, { nodeIds: [agent.nodeId] });
  const targetState = async () => ((await t.http().get(`/v1/deployments/${deployment.id}`).set(bearer(t.adminKey))).body.targets as { state: string }[])[0]?.state;
  await waitFor(targetState, (s) => s === 'committed', 60_000, 'committed');

  const bytes = { results: 0, heartbeat: 0, acks: 0 };
  sniffer.on('message', (topic, payload) => {
    const kind = topic.endsWith('/results') ? 'results' : topic.endsWith('/heartbeat') ? 'heartbeat' : topic.endsWith('/acks') ? 'acks' : undefined;
    if (kind) bytes[kind] += payload.length + Buffer.byteLength(topic);
  });
  await sniffer.subscribeAsync([topics.uplink(agent.nodeId, 'results'), topics.uplink(agent.nodeId, 'heartbeat'), topics.acks(agent.nodeId)], { qos: 0 });

  const input = Array.from({ length: INPUTS }, (_, i) => (i % 255) / 255);
  const status = async () => (await (await fetch(`${agent.url}/v1/status`)).json()) as { results: { spooled: number; policy: { mode: string } | null } };
  const storedRows = async () => ((await t.db.query(`SELECT count(*)::int AS n FROM inference_results WHERE node_id = $1`, [agent.nodeId])) as { n: number }[])[0]?.n ?? 0;
  const counted = async () => ((await t.db.query(`SELECT coalesce(sum(inferences), 0)::int AS n FROM node_heartbeats WHERE node_id = $1`, [agent.nodeId])) as { n: number }[])[0]?.n ?? 0;

  const round = async (mode: Mode, index: number): Promise<Round> => {
    await t.http().put('/v1/models/bench-policy/results-policy').set(bearer(t.adminKey)).send({ mode }).expect(200);
    await waitFor(status, (s) => s.results.policy?.mode === mode, 15_000, `the agent on ${mode}`);
    await waitFor(status, (s) => s.results.spooled === 0, 15_000, 'an empty spool');
    const [rowsBefore, countedBefore] = [await storedRows(), await counted()];
    const before = { ...bytes };
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < INFERENCES; i++) {
      const res = await fetch(`${agent.url}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input, inputRef: `r${index}-${i}` }) });
      if (res.status !== 200) throw new Error(`inference answered ${res.status}`);
    }
    // Done when the heartbeats have counted every inference and, under `all`, every result is stored and acknowledged.
    await waitFor(counted, (n) => n >= countedBefore + INFERENCES, 30_000, 'the inferences counted');
    if (mode === 'all') await waitFor(storedRows, (n) => n >= rowsBefore + INFERENCES, 30_000, 'the results stored');
    await waitFor(status, (s) => s.results.spooled === 0, 15_000, 'the spool acknowledged');
    const used = process.cpuUsage(cpu);
    return {
      results: bytes.results - before.results,
      heartbeat: bytes.heartbeat - before.heartbeat,
      acks: bytes.acks - before.acks,
      cpuMs: (used.user + used.system) / 1000,
      wallMs: performance.now() - started,
      stored: (await storedRows()) - rowsBefore,
    };
  };

  const rounds: Record<Mode, Round[]> = { all: [], aggregates: [] };
  for (let r = 0; r < ROUNDS; r++) for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) rounds[mode].push(await round(mode, rounds.all.length + rounds.aggregates.length));

  const mean = (mode: Mode, key: keyof Round) => rounds[mode].reduce((s, x) => s + x[key], 0) / rounds[mode].length;
  const per1000 = (mode: Mode, key: keyof Round) => (mean(mode, key) * 1000) / INFERENCES;
  const wire = (mode: Mode) => per1000(mode, 'results') + per1000(mode, 'heartbeat') + per1000(mode, 'acks');
  console.log(`results policy: ${ROUNDS} rounds of ${INFERENCES} inferences per mode (alternating), per 1,000 inferences`);
  console.log('mode        results B   heartbeat B   acks B   wire total B   rows stored   CPU ms (this process)');
  for (const mode of MODES) {
    console.log(
      `${mode.padEnd(10)}  ${per1000(mode, 'results').toFixed(0).padStart(9)}   ${per1000(mode, 'heartbeat').toFixed(0).padStart(11)}   ${per1000(mode, 'acks').toFixed(0).padStart(6)}   ${wire(mode).toFixed(0).padStart(12)}   ${per1000(mode, 'stored').toFixed(0).padStart(11)}   ${per1000(mode, 'cpuMs').toFixed(0).padStart(8)}`,
    );
  }
  console.log(`ratio aggregates / all: wire bytes ${(wire('aggregates') / wire('all')).toFixed(3)}, CPU ${(mean('aggregates', 'cpuMs') / mean('all', 'cpuMs')).toFixed(3)}`);
} finally {
  await sniffer.endAsync();
  await agent.remove();
  await t.close();
  await broker.stop();
}
