import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { verifyInitialRoot } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, enrolNodes, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { healthOf } from '../helpers/outage-rollout.js';
import { type OwnService, startOwnRedis } from '../helpers/own-services.js';
import { ReplicaProcess } from '../helpers/replica-process.js';
import { SimulatedNode } from '../helpers/simulated-node.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

const NODES = 2;
/** A generous bound on an answer that, without the fixes, never comes while Redis is down. */
const ANSWER_WITHIN_MS = 15_000;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const within = <T>(work: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms).unref())]);

/**
 * Redis (the test's own) is down: a request that queues a BullMQ job must still be answered, and what it
 * queued must happen once Redis is back; a graceful stop must not wait for Redis. Both used to wait for
 * Redis for as long as it was away (the stop forever).
 */
describe('requests and a graceful stop while Redis is down', () => {
  let redis: OwnService;
  let broker: TestBroker;
  let t: TestApp | undefined;
  let replica: ReplicaProcess | undefined;
  let nodes: SimulatedNode[] = [];

  beforeAll(async () => {
    [redis, broker] = await Promise.all([startOwnRedis(), startTestBroker()]);
    t = await startTestApp({ REDIS_URL: redis.url, MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.disconnect()));
    await replica?.stop('SIGKILL');
    await t?.close();
    await Promise.all([redis?.stop(), broker?.stop()]);
  });

  it('answers POST /v1/deployments while Redis is down, and broadcasts the chunks once Redis is back', async () => {
    const app = t as TestApp;
    const root = verifyInitialRoot(await new KeyStore(app.config.trust.keysDir).currentRoot(), new Date());
    const ids = await enrolNodes(app, NODES);
    await createModel(app, 'outage', 4, 2);
    const artifact = denseSoftmaxModel(1, 4, 2, { padBytes: 256 * 1024 }).bytes;
    const version = await uploadVersion(app, 'outage', { version: '1.0.0', selfTest: { input: [0, 0.25, 0.5, 1] } }, artifact);
    nodes = ids.map((nodeId) => new SimulatedNode({ brokerUrl: broker.url, nodeId, root, namespace: app.config.mqtt.fleetNamespace }));
    await Promise.all(nodes.map((n) => n.connect()));

    await redis.pause();
    await waitFor(() => healthOf(app), (h) => h.code === 503 && h.down.includes('redis'), 30_000, '/health reporting redis down');
    const res = await within(app.http().post('/v1/deployments').set(bearer(app.adminKey)).send({ modelVersionId: version.id, nodeIds: ids }), ANSWER_WITHIN_MS, 'POST /v1/deployments');
    expect(res.status).toBe(201);
    // The nodes hear of it over MQTT meanwhile and report downloading (ingest needs only PostgreSQL).
    const reported = async () => ((await app.db.query('SELECT state FROM deployment_targets WHERE deployment_id = $1', [res.body.id])) as { state: string | null }[]).map((r) => r.state);
    await waitFor(reported, (s) => s.length === NODES && s.every((x) => x === 'downloading'), 30_000, 'every node downloading');

    await redis.resume();
    // Only the broadcast delivers the chunks here: a SimulatedNode never asks for repairs by itself.
    const received = await within(Promise.all(nodes.map((n) => n.verified)), 30_000, 'the broadcast after Redis came back');
    for (const bytes of received) expect(sha256(bytes)).toBe(sha256(artifact));
    expect(nodes.map((n) => n.repairRequests)).toEqual(nodes.map(() => 0));
  }, 120_000);

  it('stops gracefully while Redis is down: app.close() completes and a SIGTERMed replica exits', async () => {
    const app = t as TestApp;
    replica = new ReplicaProcess(app, broker.url, `test-stop-${randomBytes(4).toString('hex')}`, { REDIS_URL: redis.url });
    await replica.start();
    await redis.pause();
    await waitFor(() => healthOf(app), (h) => h.code === 503 && h.down.includes('redis'), 30_000, '/health reporting redis down');

    // Each close waits at most a few seconds per queue owner; without the bound neither ever finishes.
    // Nest re-raises the signal once its shutdown hooks are done: exiting by SIGTERM is the graceful end.
    const exited = await within(replica.stop('SIGTERM'), 45_000, 'the replica exiting after SIGTERM');
    expect(exited).toEqual({ code: null, signal: 'SIGTERM' });
    await within(app.close(), 45_000, 'app.close()');
    t = undefined;
  }, 120_000);
});
