import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createModel, enrolNodes, getRollout, rolloutNodes, startRollout, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const NODES = 300;
const MAIN = resolve('dist/apps/control-plane/src/main.js');

/**
 * The rollout worker is a separate control-plane process (same database, Redis prefix and broker) that
 * is killed with SIGKILL again and again while a rollout runs. The API replica in this process runs no
 * jobs, so all progress is made by workers that die at random points of their ticks.
 */
describe('rollout worker crashes', () => {
  let broker: TestBroker;
  let t: TestApp;
  let fleet: SimulatedFleet;
  let worker: ChildProcess | undefined;
  /** Warnings and errors the worker logged, shown when the test fails. */
  const workerProblems: string[] = [];

  const startWorker = () =>
    new Promise<ChildProcess>((resolveStarted, reject) => {
      const child = spawn(process.execPath, [MAIN], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          DATABASE_URL: t.config.database.url,
          MIGRATIONS_RUN: 'false',
          KEYS_DIR: t.config.trust.keysDir,
          ARTIFACT_DIR: t.config.artifacts.dir,
          QUEUE_PREFIX: t.config.rollouts.queuePrefix,
          MQTT_URL: broker.url,
          MQTT_SHARED_GROUP: t.config.mqtt.sharedGroup,
          // A restarted replica keeps its client id, so its persistent session (and the node messages the
          // broker queued for it while it was dead) is picked up again.
          MQTT_CLIENT_ID: `crash-worker-${t.config.rollouts.queuePrefix}`,
          PORT: '0',
          ROLLOUT_WORKER: 'true',
          ROLLOUT_TICK_MS: '100',
          ROLLOUT_JOB_LOCK_MS: '1000',
          LOG_LEVEL: 'info',
        },
      });
      const timer = setTimeout(() => reject(new Error('worker did not start')), 60_000);
      child.stdout?.on('data', (data: Buffer) => {
        for (const line of data.toString().split('\n')) if (/"level":(40|50|60)/.test(line)) workerProblems.push(line.slice(0, 300));
        if (data.toString().includes('listening on')) {
          clearTimeout(timer);
          resolveStarted(child);
        }
      });
      child.on('exit', (code, signal) => signal === null && reject(new Error(`worker exited with ${code}`)));
    });

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, ROLLOUT_WORKER: 'false' });
    await createModel(t, 'digits', 8, 4);
  }, 180_000);

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await fleet?.stop();
    await t.close();
    await broker.stop();
  });

  it('completes with every node deployed exactly once while the worker is killed repeatedly', async () => {
    const version = await uploadVersion(t, 'digits', { version: '1.0.0' }, denseSoftmaxModel(5, 8).bytes);
    const ids = await enrolNodes(t, NODES, { crash: 'yes' });
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids);
    const id = await startRollout(t, { modelVersionId: version.id, selector: 'crash=yes', strategy: { waves: { exponential: { first: 4, factor: 2 } }, bakeSeconds: 1.5 } });

    const deadline = Date.now() + 200_000;
    let kills = 0;
    let killedWhileRunning = 0;
    // Each life: boot, then 1–3 s of work, then SIGKILL (jobs in flight stay locked until the lock expires).
    for (let n = 0; ; n++) {
      worker = await startWorker();
      await new Promise((r) => setTimeout(r, 1000 + Math.random() * 1500));
      const state = (await getRollout(t, id)).state;
      worker.kill('SIGKILL');
      kills++;
      if (state === 'running') killedWhileRunning++;
      if (state !== 'running') break;
      if (Date.now() > deadline) {
        const view = await getRollout(t, id);
        throw new Error(`the rollout did not finish in ${n + 1} worker lives: ${JSON.stringify(view.waves)}; worker problems:\n${workerProblems.slice(-20).join('\n')}`);
      }
    }
    expect(killedWhileRunning).toBeGreaterThanOrEqual(3);

    const done = await getRollout(t, id);
    expect(done.state).toBe('completed');
    const nodes = await rolloutNodes(t, id);
    expect(nodes).toHaveLength(NODES);
    expect(nodes.every((n) => n.state === 'succeeded' && n.attempts === 1)).toBe(true);
    // Exactly one deployment per node: one target row, and one distinct desired state received.
    const perNode = (await t.db.query(
      `SELECT dt.node_id, count(*)::int AS n FROM deployment_targets dt JOIN deployments d ON d.id = dt.deployment_id WHERE d.rollout_id = $1 GROUP BY dt.node_id`,
      [id],
    )) as { n: number }[];
    expect(perNode).toHaveLength(NODES);
    expect(perNode.every((r) => r.n === 1)).toBe(true);
    expect(ids.every((nodeId) => fleet.received.get(nodeId)?.length === 1)).toBe(true);
    console.log(`worker kills: ${kills} (${killedWhileRunning} while the rollout ran), waves ${done.waveSizes.join('/')}`);
  }, 300_000);
});
