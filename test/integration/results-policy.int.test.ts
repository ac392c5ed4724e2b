import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { type DesiredStateMessage, fleetTopics, parseMessage, type ResultsRequestMessage } from '#protocol';
import { type Envelope, type RootDocument, TrustError, verifyDesiredSignature } from '#trust';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, startRollout, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

/** The desired-state message the broker retains for a node, once `accept` holds for it. */
async function retainedMessage(broker: { url: string; namespace: string }, nodeId: string, accept: (m: DesiredStateMessage) => boolean): Promise<DesiredStateMessage> {
  return waitFor(
    async () => {
      const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
      try {
        const got = new Promise<DesiredStateMessage | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(undefined), 1000);
          client.on('message', (_topic, payload) => {
            const parsed = parseMessage('desired', payload);
            if (!parsed.ok) return;
            clearTimeout(timer);
            resolve(parsed.value);
          });
        });
        await client.subscribeAsync(fleetTopics(broker.namespace).desired(nodeId), { qos: 1 });
        return await got;
      } finally {
        await client.endAsync();
      }
    },
    (m) => m !== undefined && accept(m),
    15_000,
    'the retained desired state',
  ) as Promise<DesiredStateMessage>;
}

describe('results policy', () => {
  let broker: TestBroker;
  let t: TestApp;
  let root: RootDocument;
  const where = () => ({ url: broker.url, namespace: t.config.mqtt.fleetNamespace });
  const policyOf = (m: DesiredStateMessage) => m.desired.signed.resultsPolicy;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
    root = ((await t.http().get('/v1/trust/root').expect(200)).body as Envelope<RootDocument>).signed;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await broker?.stop();
  });

  it.each([
    [{ mode: 'sample' }, 'rate'],
    [{ mode: 'sample', rate: 0 }, 'rate'],
    [{ mode: 'sample', rate: 1.5 }, 'rate'],
    [{ mode: 'all', rate: 0.5 }, 'rate'],
    [{ mode: 'none' }, 'mode'],
    [{ mode: 'sample', rate: 'half' }, 'rate'],
  ])('refuses the policy %j with a problem naming %s, on a model and on create', async (policy, field) => {
    await createModel(t, 'refusals', 4, 2).catch(() => undefined);
    const put = await t.http().put('/v1/models/refusals/results-policy').set(bearer(t.adminKey)).send(policy).expect(400);
    expect(put.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(put.body)).toContain(field);
    const create = await t
      .http()
      .post('/v1/models')
      .set(bearer(t.adminKey))
      .send({ name: 'never-made', task: 'c', inputSpec: {}, outputSpec: {}, resultsPolicy: policy })
      .expect(400);
    expect(create.headers['content-type']).toMatch(/^application\/problem\+json/);
    await t.http().get('/v1/models/never-made').set(bearer(t.adminKey)).expect(404);
  });

  it('shows all for a model without a policy, and its desired states carry none (what older control planes sent)', async () => {
    await createModel(t, 'plain', 8, 4);
    expect((await t.http().get('/v1/models/plain').set(bearer(t.adminKey)).expect(200)).body.resultsPolicy).toEqual({ mode: 'all' });
    const version = await uploadVersion(t, 'plain', { version: '1.0.0' }, denseSoftmaxModel(3, 8).bytes);
    const [nodeId] = (await enrolNodes(t, 1)) as [string];
    const deployment = await deploy(t, version.id, { nodeIds: [nodeId] });
    const message = await retainedMessage(where(), nodeId, (m) => m.desired.signed.deploymentId === deployment.id);
    expect('resultsPolicy' in message.desired.signed).toBe(false);
  });

  it('signs the model policy into desired states, re-signs them when it changes, and a tampered policy fails verification', async () => {
    await t
      .http()
      .post('/v1/models')
      .set(bearer(t.adminKey))
      .send({ name: 'sampled', task: 'classification', inputSpec: { name: 'input', shape: [1, 8] }, outputSpec: { name: 'probabilities', shape: [1, 4] }, resultsPolicy: { mode: 'sample', rate: 0.25 } })
      .expect(201);
    expect((await t.http().get('/v1/models/sampled').set(bearer(t.adminKey)).expect(200)).body.resultsPolicy).toEqual({ mode: 'sample', rate: 0.25 });
    const version = await uploadVersion(t, 'sampled', { version: '1.0.0' }, denseSoftmaxModel(4, 8).bytes);
    const [nodeId] = (await enrolNodes(t, 1)) as [string];
    const deployment = await deploy(t, version.id, { nodeIds: [nodeId] });

    const first = await retainedMessage(where(), nodeId, (m) => m.desired.signed.deploymentId === deployment.id);
    expect(policyOf(first)).toEqual({ mode: 'sample', rate: 0.25 });
    expect(verifyDesiredSignature(first.desired, root).resultsPolicy).toEqual({ mode: 'sample', rate: 0.25 });
    const tampered = { ...first.desired, signed: { ...first.desired.signed, resultsPolicy: { mode: 'all' as const } } };
    expect(() => verifyDesiredSignature(tampered, root)).toThrow(TrustError);

    const changed = await t.http().put('/v1/models/sampled/results-policy').set(bearer(t.adminKey)).send({ mode: 'aggregates' }).expect(200);
    expect(changed.body).toEqual({ model: 'sampled', resultsPolicy: { mode: 'aggregates' }, republishedNodes: 1 });
    const second = await retainedMessage(where(), nodeId, (m) => policyOf(m)?.mode === 'aggregates');
    expect(second.desired.signed.deploymentId).toBe(deployment.id);
    expect(verifyDesiredSignature(second.desired, root).resultsPolicy).toEqual({ mode: 'aggregates' });
    const audit = (await t.http().get('/v1/audit-events').query({ targetType: 'model' }).set(bearer(t.adminKey)).expect(200)).body as { action: string; details: unknown }[];
    expect(audit.filter((a) => a.action === 'model.results-policy').map((a) => a.details)).toContainEqual(expect.objectContaining({ name: 'sampled', resultsPolicy: { mode: 'aggregates' } }));

    // The same policy again: nothing re-signed, nothing audited.
    const again = await t.http().put('/v1/models/sampled/results-policy').set(bearer(t.adminKey)).send({ mode: 'aggregates' }).expect(200);
    expect(again.body).toEqual({ model: 'sampled', resultsPolicy: { mode: 'aggregates' }, republishedNodes: 0 });
    const auditAfter = (await t.http().get('/v1/audit-events').query({ targetType: 'model' }).set(bearer(t.adminKey)).expect(200)).body as { action: string; details: { name?: string } }[];
    const sampledRows = (rows: { action: string; details: unknown }[]) => rows.filter((a) => a.action === 'model.results-policy' && (a.details as { name?: string }).name === 'sampled').length;
    expect(sampledRows(auditAfter)).toBe(sampledRows(audit));
  });

  it("carries a rollout's own policy to the rollout's deployments, over the model's", async () => {
    await createModel(t, 'rolled', 8, 4);
    await t.http().put('/v1/models/rolled/results-policy').set(bearer(t.adminKey)).send({ mode: 'aggregates' }).expect(200);
    const version = await uploadVersion(t, 'rolled', { version: '1.0.0' }, denseSoftmaxModel(5, 8).bytes);
    const [nodeId] = (await enrolNodes(t, 1, { pool: 'rolled' })) as [string];
    await t.http().post('/v1/rollouts').set(bearer(t.adminKey)).send({ name: 'bad', modelVersionId: version.id, resultsPolicy: { mode: 'sample', rate: -1 } }).expect(400);
    const id = await startRollout(t, { modelVersionId: version.id, selector: 'pool=rolled', resultsPolicy: { mode: 'sample', rate: 0.5 } });
    expect((await t.http().get(`/v1/rollouts/${id}`).set(bearer(t.adminKey)).expect(200)).body.resultsPolicy).toEqual({ mode: 'sample', rate: 0.5 });
    const message = await retainedMessage(where(), nodeId, (m) => m.desired.signed.manifest.signed.name === 'rolled');
    expect(verifyDesiredSignature(message.desired, root).resultsPolicy).toEqual({ mode: 'sample', rate: 0.5 });
  });

  it("changes a rollout's policy after create: re-signs its nodes' desired states only when it changes, audited; refusals are problems", async () => {
    await createModel(t, 'changed', 8, 4);
    const version = await uploadVersion(t, 'changed', { version: '1.0.0' }, denseSoftmaxModel(6, 8).bytes);
    const nodeIds = await enrolNodes(t, 2, { pool: 'changed' });
    const id = await startRollout(t, { modelVersionId: version.id, selector: 'pool=changed', resultsPolicy: { mode: 'all' } });
    for (const nodeId of nodeIds) await retainedMessage(where(), nodeId, (m) => m.desired.signed.manifest.signed.name === 'changed');
    const url = `/v1/rollouts/${id}/results-policy`;

    const changed = await t.http().put(url).set(bearer(t.adminKey)).send({ mode: 'sample', rate: 0.2 }).expect(200);
    expect(changed.body).toEqual({ rolloutId: id, resultsPolicy: { mode: 'sample', rate: 0.2 }, republishedNodes: 2 });
    expect((await t.http().get(`/v1/rollouts/${id}`).set(bearer(t.adminKey)).expect(200)).body.resultsPolicy).toEqual({ mode: 'sample', rate: 0.2 });
    for (const nodeId of nodeIds) {
      const message = await retainedMessage(where(), nodeId, (m) => policyOf(m)?.mode === 'sample');
      expect(verifyDesiredSignature(message.desired, root).resultsPolicy).toEqual({ mode: 'sample', rate: 0.2 });
    }
    const again = await t.http().put(url).set(bearer(t.adminKey)).send({ mode: 'sample', rate: 0.2 }).expect(200);
    expect(again.body).toEqual({ rolloutId: id, resultsPolicy: { mode: 'sample', rate: 0.2 }, republishedNodes: 0 });
    const audit = (await t.http().get('/v1/audit-events').query({ targetType: 'rollout', targetId: id }).set(bearer(t.adminKey)).expect(200)).body as { action: string; details: unknown }[];
    expect(audit.filter((a) => a.action === 'rollout.results-policy').map((a) => a.details)).toEqual([{ resultsPolicy: { mode: 'sample', rate: 0.2 }, previous: { mode: 'all' } }]);

    for (const body of [{ mode: 'sample' }, { mode: 'all', rate: 0.5 }, { mode: 'nope' }]) {
      const res = await t.http().put(url).set(bearer(t.adminKey)).send(body).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    await t.http().put('/v1/rollouts/00000000-0000-4000-8000-000000000000/results-policy').set(bearer(t.adminKey)).send({ mode: 'all' }).expect(404);
    await t.http().put('/v1/rollouts/not-a-uuid/results-policy').set(bearer(t.adminKey)).send({ mode: 'all' }).expect(400);
  });

  it('publishes a request for kept results to the node, and refuses bad requests with problems', async () => {
    const [nodeId] = (await enrolNodes(t, 1)) as [string];
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    try {
      const heard: ResultsRequestMessage[] = [];
      client.on('message', (_topic, payload) => {
        const parsed = parseMessage('results-requests', payload);
        if (parsed.ok) heard.push(parsed.value);
      });
      await client.subscribeAsync(fleetTopics(t.config.mqtt.fleetNamespace).resultsRequests(nodeId), { qos: 1 });
      const url = `/v1/nodes/${nodeId}/results-requests`;
      for (const body of [{}, { inputRefs: [] }, { from: '2026-12-01T00:00:00Z' }, { inputRefs: ['a'], from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' }, { from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' }, { inputRefs: ['x'.repeat(201)] }]) {
        const res = await t.http().post(url).set(bearer(t.adminKey)).send(body).expect(400);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
      await t.http().post('/v1/nodes/00000000-0000-4000-8000-000000000000/results-requests').set(bearer(t.adminKey)).send({ inputRefs: ['a'] }).expect(404);
      const accepted = await t.http().post(url).set(bearer(t.adminKey)).send({ inputRefs: ['img-1', 'img-2'] }).expect(202);
      await waitFor(async () => heard.length, (n) => n === 1, 5_000, 'the request on the node topic');
      expect(heard[0]).toMatchObject({ id: accepted.body.requestId, inputRefs: ['img-1', 'img-2'] });
      expect(heard.some((m) => m.from !== undefined)).toBe(false); // refused requests were never published
    } finally {
      await client.endAsync();
    }
  });
  it('rate-limits results requests per node: past the burst a 429 problem with Retry-After, nothing published or audited', async () => {
    const [nodeId, other] = (await enrolNodes(t, 2)) as [string, string];
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    try {
      const heard: ResultsRequestMessage[] = [];
      client.on('message', (_topic, payload) => {
        const parsed = parseMessage('results-requests', payload);
        if (parsed.ok) heard.push(parsed.value);
      });
      await client.subscribeAsync(fleetTopics(t.config.mqtt.fleetNamespace).resultsRequests(nodeId), { qos: 1 });
      const url = `/v1/nodes/${nodeId}/results-requests`;
      const { burst, perMinute } = t.config.resultsRequests;
      for (let n = 0; n < burst; n++) await t.http().post(url).set(bearer(t.adminKey)).send({ inputRefs: [`img-${n}`] }).expect(202);
      const refused = await t.http().post(url).set(bearer(t.adminKey)).send({ inputRefs: ['one-too-many'] }).expect(429);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(Math.ceil(60 / perMinute));
      // Another node has its own bucket.
      await t.http().post(`/v1/nodes/${other}/results-requests`).set(bearer(t.adminKey)).send({ inputRefs: ['a'] }).expect(202);
      await waitFor(async () => heard.length, (n) => n === burst, 5_000, 'the accepted requests on the node topic');
      const audit = (await t.http().get('/v1/audit-events').query({ targetType: 'node', targetId: nodeId }).set(bearer(t.adminKey)).expect(200)).body as { action: string }[];
      expect(audit.filter((a) => a.action === 'node.results-request')).toHaveLength(burst);
      expect(heard.some((m) => m.inputRefs?.includes('one-too-many'))).toBe(false);
    } finally {
      await client.endAsync();
    }
  });
});
