import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import { fleetTopics, parseMessage, type ResultsRequestMessage } from '#protocol';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, reportRunning, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';
import { ROLLUP_TIERS, rollupSource } from '../../apps/control-plane/src/telemetry/rollup-sql.js';

interface FeedbackAnswer {
  received: number;
  matched: number;
  unmatched: number[];
  pending: number;
  requestedNodes: number;
  rateLimitedNodes: number;
}

/**
 * Feedback for results the control plane does not hold (kept on the node under `sample` or `aggregates`):
 * the labels are held, the results requested from the nodes that may keep them (one request per node,
 * within its rate limit), and the accuracy join completes when the nodes send them.
 */
describe('feedback for kept results', () => {
  let broker: TestBroker;
  let t: TestApp;
  let fleet: SimulatedFleet;
  let listener: MqttClient;
  let ids: string[];
  const heard = new Map<string, ResultsRequestMessage[]>();

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
    await createModel(t, 'kept', 8, 4);
    const version = await uploadVersion(t, 'kept', { version: '1.0.0' }, denseSoftmaxModel(7, 8).bytes);
    ids = await enrolNodes(t, 3, { suite: 'kept' });
    const idle = (await enrolNodes(t, 1, { suite: 'kept-idle' })) as [string]; // served nothing: never asked
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, [...ids, ...idle]);
    await deploy(t, version.id, { nodeIds: ids });
    await waitFor(async () => fleet.running.size, (n) => n === ids.length, 20_000, 'every node running');
    await reportRunning(t, fleet, ids, version.id);
    await fleet.heartbeatWithHistogram((nodeId) => ({ latenciesMs: ids.includes(nodeId) ? [2, 3, 4] : [] }));
    await waitFor(
      async () => ((await t.db.query(`SELECT count(DISTINCT node_id)::int AS n FROM ${rollupSource(ROLLUP_TIERS[1], `'-infinity'`)} r WHERE model_version_id = $1 AND inferences > 0`, [version.id])) as { n: number }[])[0]?.n,
      (n) => n === ids.length,
      20_000,
      'the serving nodes rolled up',
    );
    listener = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    const topics = fleetTopics(t.config.mqtt.fleetNamespace);
    listener.on('message', (topic, payload) => {
      const parsed = parseMessage('results-requests', payload);
      const nodeId = [...ids, ...idle].find((id) => topic === topics.resultsRequests(id));
      if (parsed.ok && nodeId) heard.set(nodeId, [...(heard.get(nodeId) ?? []), parsed.value]);
    });
    await listener.subscribeAsync([...ids, ...idle].map((id) => topics.resultsRequests(id)), { qos: 1 });
  }, 90_000);

  afterAll(async () => {
    await listener?.endAsync();
    await fleet?.stop();
    await t?.close();
    await broker?.stop();
  });

  const feedback = async (body: object) => (await t.http().post('/v1/feedback').set(bearer(t.adminKey)).send(body).expect(200)).body as FeedbackAnswer;
  const accuracy = async () =>
    ((await t.http().get('/v1/models/kept/versions/1.0.0/stats').set(bearer(t.adminKey)).expect(200)).body as { total: { feedback: { labelled: number; correct: number } } }).total.feedback;

  it('requests unstored results from the nodes that served the version, one request per node, and joins the labels when the results arrive', async () => {
    const [n0, n1, n2] = ids as [string, string, string];
    const answer = await feedback({
      model: 'kept',
      version: '1.0.0',
      items: [{ inputRef: 'k-1', label: 1 }, { inputRef: 'k-2', label: 2 }, { nodeId: n0, inputRef: 'k-3', label: 0 }, { inputRef: 'k-1', label: 1 }],
    });
    expect(answer).toEqual({ received: 4, matched: 0, unmatched: [0, 1, 2, 3], pending: 4, requestedNodes: 3, rateLimitedNodes: 0 });
    await waitFor(async () => [...heard.values()].flat().length, (n) => n === 3, 10_000, 'one request per serving node');
    expect(heard.get(n0)?.map((m) => [...(m.inputRefs ?? [])].sort())).toEqual([['k-1', 'k-2', 'k-3']]);
    expect(heard.get(n1)?.map((m) => [...(m.inputRefs ?? [])].sort())).toEqual([['k-1', 'k-2']]);
    expect(heard.get(n2)?.map((m) => [...(m.inputRefs ?? [])].sort())).toEqual([['k-1', 'k-2']]);
    expect(await accuracy()).toEqual({ labelled: 0, correct: 0, accuracy: null });

    // The nodes answer through the ordinary results path: n1 had k-1 (right), n0 had k-3 (wrong).
    await fleet.resultsOf((nodeId) =>
      nodeId === n1 ? [{ inputRef: 'k-1', topClass: 1, confidence: 0.9 }] : nodeId === n0 ? [{ inputRef: 'k-3', topClass: 2, confidence: 0.8 }, { inputRef: 'unlabelled', topClass: 0, confidence: 0.5 }] : [],
    );
    await waitFor(accuracy, (f) => f.labelled === 2, 20_000, 'the held labels joined at ingest');
    expect(await accuracy()).toEqual({ labelled: 2, correct: 1, accuracy: 0.5 });
    // The label for one node is done; those for any node wait for the others until they expire.
    const held = (await t.db.query(`SELECT input_ref AS ref, node_id AS node FROM pending_feedback ORDER BY id`)) as { ref: string; node: string | null }[];
    expect(held.map((h) => h.ref).sort()).toEqual(['k-1', 'k-1', 'k-2']);
    expect(held.every((h) => h.node === null)).toBe(true);
  });

  it('holds nothing and asks no one for a label that names neither a node nor a version, or a node that does not exist', async () => {
    const before = [...heard.values()].flat().length;
    expect(await feedback({ items: [{ inputRef: 'nowhere', label: 1 }] })).toEqual({ received: 1, matched: 0, unmatched: [0], pending: 0, requestedNodes: 0, rateLimitedNodes: 0 });
    // A node that does not exist: nothing held, no one asked (its label is simply unmatched, as before).
    expect(await feedback({ items: [{ nodeId: '00000000-0000-4000-8000-000000000000', inputRef: 'ghost', label: 1 }] })).toEqual({
      received: 1, matched: 0, unmatched: [0], pending: 0, requestedNodes: 0, rateLimitedNodes: 0,
    });
    await t.http().post('/v1/feedback').set(bearer(t.adminKey)).send({ model: 'kept', items: [{ inputRef: 'x', label: 1 }] }).expect(400);
    expect([...heard.values()].flat().length).toBe(before);
  });

  it('stays within each node’s results-requests rate limit: past it the node is not asked and the answer says so', async () => {
    const n2 = ids[2] as string;
    const { burst } = t.config.resultsRequests;
    const answers: FeedbackAnswer[] = [];
    for (let i = 0; i < burst + 1; i++) answers.push(await feedback({ items: [{ nodeId: n2, inputRef: `limited-${i}`, label: 1 }] }));
    // n2 spent one token in the first test: burst − 1 more are asked, then it is limited.
    expect(answers.map((a) => [a.pending, a.requestedNodes, a.rateLimitedNodes])).toEqual([
      ...Array.from({ length: burst - 1 }, () => [1, 1, 0]),
      [0, 0, 1],
      [0, 0, 1],
    ]);
  });
});
