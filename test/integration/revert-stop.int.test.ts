import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, enrolNodes, startRollout, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { expectTickChainEnded } from '../helpers/rollout-ticks.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

interface Target {
  state: string;
  reason: string | null;
  published: boolean;
}

/**
 * A rollout stopped with a fleet rollback while a node it reverts is offline (enrolled, never connected,
 * so it never reports): the stopped rollout must give up on that node once its revert's deadline passes,
 * and its ticks must end, instead of ticking for as long as the node stays away.
 */
describe('a stopped rollout reverting a silent node', () => {
  let broker: TestBroker;
  let t: TestApp;

  const target = async (rolloutId: string, nodeId: string) =>
    ((await t.db.query(`SELECT state, reason, published FROM rollout_nodes WHERE rollout_id = $1 AND node_id = $2`, [rolloutId, nodeId])) as Target[])[0];

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await broker?.stop();
  });

  it('fails the silent node with reason timeout once its revert is past its deadline, and stops ticking', async () => {
    await createModel(t, 'digits', 16, 4);
    const previous = await uploadVersion(t, 'digits', { version: '1.0.0' }, denseSoftmaxModel(1).bytes);
    const next = await uploadVersion(t, 'digits', { version: '2.0.0' }, denseSoftmaxModel(2).bytes);
    const [node = ''] = await enrolNodes(t, 1, { fleet: 'reverting' });
    // What the node last reported running: the version a rollback returns it to.
    await t.db.query(`UPDATE nodes SET current_model_version_id = $2 WHERE id = $1`, [node, previous.id]);
    const id = await startRollout(t, { modelVersionId: next.id, selector: 'fleet=reverting', strategy: { nodeTimeoutSeconds: 2 } });
    await waitFor(() => target(id, node), (r) => r?.state === 'dispatched' && r.published, 30_000, 'the node dispatched');

    await t.http().post(`/v1/rollouts/${id}/abort`).set(bearer(t.adminKey)).send({ reason: 'operator stop', rollback: true }).expect(200);
    await waitFor(() => target(id, node), (r) => r?.state === 'reverting' && r.published, 30_000, 'the revert sent');
    const failed = await waitFor(() => target(id, node), (r) => r?.state === 'revert-failed', 30_000, 'the silent node given up on');
    expect(failed).toMatchObject({ state: 'revert-failed', reason: 'timeout' });

    await expectTickChainEnded(t, id);
    const events = (await t.db.query(`SELECT detail FROM rollout_events WHERE rollout_id = $1 AND kind = 'node-revert-failed'`, [id])) as { detail: { nodeId: string; reason: string } }[];
    expect(events.map((e) => e.detail)).toEqual([{ nodeId: node, reason: 'timeout: never confirmed the revert' }]);
  }, 120_000);
});
