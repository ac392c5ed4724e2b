/**
 * Does the chunk broadcast reach real agents? Real agent processes, the real control plane and Mosquitto;
 * a model of ~5 MiB deployed to 5 agents; the control plane's `chunk publishes` metric split by mode.
 *   npm run build && npm run bench:build && node dist/bench/chunk-repair.js [agents=5] [sizeMiB=5]
 * Rounds, in one run:
 *   1. baseline: the broadcast starts as soon as the desired states are out (BROADCAST_WAIT_MS=0, what the
 *      control plane did before): it races the agents opening their download stores (chunks that come
 *      first are dropped, then repaired); how often it loses depends on the agent and the machine's load;
 *   2. the broadcast waits until every agent reports `downloading` (default BROADCAST_WAIT_MS);
 *   3. as 2, with one agent losing every 10th broadcast chunk (fault injection): it repairs only those.
 * Goal: repair publishes = 0 in round 2, = the lost chunks in round 3. Agents run with the default
 * `stallSeconds` (3 s) and a 0.3 s soak, so "all committed" is mostly download time.
 */
import 'reflect-metadata';
import { AgentProcess, waitFor } from '../test/helpers/agent-process.js';
import { chunkPublishes } from '../test/helpers/chunk-metrics.js';
import { createModel, uploadVersion } from '../test/helpers/fleet.js';
import { denseSoftmaxModel } from '../test/helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../test/helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../test/helpers/test-broker.js';

const AGENTS = Number(process.argv[2] ?? 5);
const SIZE_MIB = Number(process.argv[3] ?? 5);
const INPUTS = 16;

interface Round {
  readonly label: string;
  readonly chunks: number;
  readonly broadcast: number;
  readonly repair: number;
  readonly seconds: number;
  readonly lost: number;
}

let release = 0;

/** Uploads a new version, deploys it to `agents`, waits until every one committed it; counts publishes. */
async function deployRound(t: TestApp, label: string, agents: AgentProcess[], lost = 0): Promise<Round> {
  const model = denseSoftmaxModel(++release, INPUTS, 4, { padBytes: SIZE_MIB * 1024 * 1024 });
  const golden = Float32Array.from({ length: INPUTS }, (_, i) => i / INPUTS);
  const selfTest = { input: Array.from(golden), expectedOutput: Array.from(model.reference(golden)), tolerance: 1e-4 };
  const version = await uploadVersion(t, 'bench', { version: `1.0.${release}`, selfTest }, model.bytes);
  const before = await chunkPublishes(t);
  const started = Date.now();
  const res = await t.http().post('/v1/deployments').set(bearer(t.adminKey)).send({ modelVersionId: version.id, nodeIds: agents.map((a) => a.nodeId) }).expect(201);
  const { id, chunkCount } = res.body as { id: string; chunkCount: number };
  const states = async () => ((await t.http().get(`/v1/deployments/${id}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null }[]).map((x) => x.state);
  const final = await waitFor(states, (s) => s.every((x) => x === 'committed' || x === 'failed' || x === 'rolled-back'), 300_000, `${label}: every agent done`);
  const seconds = (Date.now() - started) / 1000;
  if (!final.every((s) => s === 'committed')) throw new Error(`${label}: not every agent committed: ${final.join(', ')}`);
  const after = await chunkPublishes(t);
  return { label, chunks: chunkCount, broadcast: after.broadcast - before.broadcast, repair: after.repair - before.repair, seconds, lost };
}

/** A control plane with its own database and agents on the shared broker. */
async function fleet(broker: TestBroker, env: Record<string, string>, lossyChunks: number[] = []) {
  const t = await startTestApp({ MQTT_URL: broker.url, LOG_LEVEL: 'silent', ...env });
  await createModel(t, 'bench', INPUTS, 4);
  const { token } = await createEnrollmentToken(t, { maxUses: AGENTS + 1 });
  const start = (name: string, extra: Record<string, string> = {}) =>
    AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name, stallSeconds: 3, soak: { inferences: 1_000_000, seconds: 0.3 }, env: extra });
  const agents = await Promise.all(Array.from({ length: AGENTS }, (_, i) => start(`agent-${i}`)));
  const lossy = lossyChunks.length > 0 ? await start('lossy', { EDGEFLEET_DROP_BROADCAST_CHUNKS: lossyChunks.join(',') }) : undefined;
  return {
    t,
    agents,
    lossy,
    close: async () => {
      await Promise.all([...agents, ...(lossy ? [lossy] : [])].map((a) => a.remove()));
      await t.close();
    },
  };
}

const broker = await startTestBroker();
const rounds: Round[] = [];
try {
  const chunks = Math.ceil((SIZE_MIB * 1024 * 1024) / (128 * 1024)) + 1;
  const lostChunks = Array.from({ length: chunks }, (_, i) => i).filter((i) => i % 10 === 3);

  const before = await fleet(broker, { BROADCAST_WAIT_MS: '0' });
  try {
    rounds.push(await deployRound(before.t, 'broadcast at once (BROADCAST_WAIT_MS=0)', before.agents));
  } finally {
    await before.close();
  }

  const now = await fleet(broker, {}, lostChunks);
  try {
    rounds.push(await deployRound(now.t, `after every agent reports downloading (wait ≤ ${now.t.config.distribution.broadcastWaitMs} ms)`, now.agents));
    const lossy = now.lossy as AgentProcess;
    rounds.push(await deployRound(now.t, 'same, one agent loses broadcast chunks', [...now.agents.slice(1), lossy], lostChunks.length));
  } finally {
    await now.close();
  }

  console.log(`${AGENTS} real agents x ${SIZE_MIB} MiB model (${rounds[0]?.chunks} chunks of 128 KiB), stallSeconds 3`);
  console.log(`${'round'.padEnd(62)} broadcast  repair  lost  all committed`);
  for (const r of rounds) {
    console.log(`${r.label.padEnd(62)} ${String(r.broadcast).padStart(9)}  ${String(r.repair).padStart(6)}  ${String(r.lost).padStart(4)}  ${r.seconds.toFixed(1).padStart(10)} s`);
  }
  const [baseline, ready, lossy] = rounds;
  console.log(`repair publishes: ${baseline?.repair} at once, ${ready?.repair} after readiness (goal 0); lossy agent: ${lossy?.repair} re-sent for ${lossy?.lost} lost (goal equal)`);
  process.exitCode = ready?.repair === 0 && lossy?.repair === lossy?.lost ? 0 : 1;
} finally {
  await broker.stop();
}
