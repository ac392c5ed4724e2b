import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { verifyInitialRoot } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { waitFor } from '../helpers/agent-process.js';
import { chunkPublishes } from '../helpers/chunk-metrics.js';
import { createModel, enrolNodes, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedNode } from '../helpers/simulated-node.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

const NODES = 3;
const ARTIFACT_BYTES = 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Two replicas share the database, Redis prefix, broker group and artifact store. Replica B records a
 * deployment and queues its broadcast, then stops; the nodes come online afterwards, so their
 * `downloading` statuses can only reach replica A. A must start the broadcast B queued, long before its
 * bounded wait (set far beyond the test) runs out.
 */
describe('broadcast readiness across replicas', () => {
  let broker: TestBroker;
  let a: TestApp;
  let b: TestApp | undefined;
  let nodes: SimulatedNode[] = [];

  beforeAll(async () => {
    broker = await startTestBroker();
    a = await startTestApp({ MQTT_URL: broker.url, BROADCAST_WAIT_MS: '60000', INGEST_FLUSH_MS: '20' });
    b = await startTestApp({
      DATABASE_URL: a.config.database.url,
      KEYS_DIR: a.config.trust.keysDir,
      MQTT_SHARED_GROUP: a.config.mqtt.sharedGroup,
      QUEUE_PREFIX: a.config.rollouts.queuePrefix,
      ARTIFACT_DIR: a.config.artifacts.dir,
      MQTT_URL: broker.url,
      BROADCAST_WAIT_MS: '60000',
      // Its broker session ends with it: node messages are not queued for it once it has stopped.
      MQTT_SESSION_EXPIRY_SECONDS: '0',
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.disconnect()));
    await b?.close();
    await a?.close();
    await broker?.stop();
  });

  it('starts the broadcast another replica queued once every target has reported downloading', async () => {
    const root = verifyInitialRoot(await new KeyStore(a.config.trust.keysDir).currentRoot(), new Date());
    const ids = await enrolNodes(a, NODES);
    await createModel(a, 'replicated', 4, 2);
    const artifact = denseSoftmaxModel(1, 4, 2, { padBytes: ARTIFACT_BYTES }).bytes;
    const version = await uploadVersion(a, 'replicated', { version: '1.0.0', selfTest: { input: [0, 0.25, 0.5, 1] } }, artifact);

    const replica = b as TestApp;
    const res = await replica.http().post('/v1/deployments').set(bearer(replica.adminKey)).send({ modelVersionId: version.id, nodeIds: ids }).expect(201);
    await replica.close();
    b = undefined;

    nodes = ids.map((nodeId) => new SimulatedNode({ brokerUrl: broker.url, nodeId, root, namespace: a.config.mqtt.fleetNamespace }));
    await Promise.all(nodes.map((n) => n.connect())); // each gets its retained desired state and reports downloading
    await waitFor(async () => nodes.every((n) => n.download !== undefined), (all) => all, 30_000, 'the desired states');
    const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no broadcast within 30 s')), 30_000).unref());
    const received = await Promise.race([Promise.all(nodes.map((n) => n.verified)), deadline]);
    for (const bytes of received) expect(sha256(bytes)).toBe(sha256(artifact));
    const states = async () => ((await a.db.query('SELECT state FROM deployment_targets WHERE deployment_id = $1', [res.body.id])) as { state: string }[]).map((s) => s.state);
    await waitFor(states, (s) => s.length === NODES && s.every((x) => x === 'verified'), 30_000, 'every node verified');
    expect(await chunkPublishes(a)).toEqual({ broadcast: res.body.chunkCount as number, repair: 0 });
  }, 90_000);
});
