/**
 * Abort-with-rollback latency on loopback: one real agent (default soak: 20 inferences or 30 s), the real
 * control plane and Mosquitto. Each round deploys a new version through a rollout, waits until the node
 * soaks it, then times POST /v1/rollouts/:id/abort {rollback: true} until the API shows the node
 * `reverted` (polled every 50 ms).
 *   npm run bench:build && node dist/bench/rollback-latency.js [rounds=5]
 * Goal: ≤ 5 s per round. The agent is the one in ./dist of the working directory: run the same script
 * from a checkout of another commit (with its own dist/) to measure that agent against this control plane.
 */
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { AgentProcess, waitFor } from '../test/helpers/agent-process.js';
import { createModel, deploy, rolloutNodes, startRollout, uploadVersion } from '../test/helpers/fleet.js';
import { denseSoftmaxModel } from '../test/helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp } from '../test/helpers/test-app.js';
import { startTestBroker } from '../test/helpers/test-broker.js';

const ROUNDS = Number(process.argv[2] ?? 5);
const INPUTS = 16;
const golden = Array.from({ length: INPUTS }, (_, i) => (i % 5) / 5);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const broker = await startTestBroker();
const t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
let agent: AgentProcess | undefined;
try {
  await createModel(t, 'bench', INPUTS, 4);
  const { token } = await createEnrollmentToken(t, { labels: { fleet: 'bench' } });
  agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 20, seconds: 30 }, stallSeconds: 3 });
  const node = agent;
  const upload = (version: string, seed: number) => {
    const model = denseSoftmaxModel(seed, INPUTS, 4, { padBytes: 1024 * 1024 });
    return uploadVersion(t, 'bench', { version, selfTest: { input: golden, expectedOutput: Array.from(model.reference(Float32Array.from(golden))), tolerance: 1e-4 } }, model.bytes).then(
      (v) => ({ ...v, sha256: sha256(model.bytes) }),
    );
  };

  // The version every round returns to: deployed and committed (fed its soak) before the rounds.
  const base = await upload('1.0.0', 1);
  await deploy(t, base.id, { nodeIds: [node.nodeId] });
  await waitFor(() => node.status(), (s) => s.model?.sha256 === base.sha256, 60_000, 'base model serving');
  for (let i = 0; i < 20; i++) await node.infer(golden);
  await waitFor(() => node.status(), (s) => s.phase === 'idle', 60_000, 'base committed');
  // A rollout records each node's previous version from its heartbeats: start a round only once they
  // name the base version again, or the revert would target the last round's version.
  const heartbeatNamesBase = (what: string) =>
    waitFor(
      async () => (await t.db.query(`SELECT current_model_version_id AS id FROM nodes WHERE id = $1`, [node.nodeId])) as { id: string }[],
      (rows) => rows[0]?.id === base.id,
      30_000,
      what,
    );
  await heartbeatNamesBase('heartbeat naming the base version');

  const figures: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const next = await upload(`2.0.${round}`, 100 + round);
    const rolloutId = await startRollout(t, { modelVersionId: next.id, selector: 'fleet=bench' });
    await waitFor(() => node.status(), (s) => s.model?.sha256 === next.sha256 && s.phase === 'soaking', 60_000, `round ${round}: soaking`);
    const started = performance.now();
    await t.http().post(`/v1/rollouts/${rolloutId}/abort`).set(bearer(t.adminKey)).send({ reason: 'bench', rollback: true }).expect(200);
    await waitFor(() => rolloutNodes(t, rolloutId), (nodes) => nodes[0]?.state === 'reverted', 180_000, `round ${round}: reverted`);
    const seconds = (performance.now() - started) / 1000;
    figures.push(seconds);
    console.log(`round ${round}: abort → reverted in ${seconds.toFixed(2)} s`);
    await waitFor(() => node.status(), (s) => s.model?.sha256 === base.sha256 && s.phase === 'idle', 60_000, `round ${round}: base serving again`);
    await heartbeatNamesBase(`round ${round}: heartbeat naming the base version again`);
  }
  const sorted = [...figures].sort((a, b) => a - b);
  console.log(`abort with rollback → reverted, one node, ${ROUNDS} rounds: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(2)} s, max ${sorted.at(-1)?.toFixed(2)} s (goal ≤ 5 s)`);
} finally {
  await agent?.remove();
  await t.close();
  await broker.stop();
}
