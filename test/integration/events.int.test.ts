import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { EventFeed } from '../../apps/control-plane/src/events/event-feed.js';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { postWebhook } from '../../apps/control-plane/src/webhooks/webhook-sender.js';
import { SIGNATURE_HEADER, verifySignature } from '../../apps/control-plane/src/webhooks/webhook-signature.js';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, enrolNodes, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, createApiKey, startTestApp, type TestApp } from '../helpers/test-app.js';

interface EventView {
  id: string;
  type: string;
  rolloutId: string | null;
  nodeId: string | null;
  modelVersionId: string | null;
  payload: Record<string, unknown>;
}

/** An SSE client on node:http: collects the events of one connection. */
function openStream(url: string, key: string, lastEventId?: string): Promise<{ events: EventView[]; close: () => void }> {
  return new Promise((resolve, reject) => {
    const events: EventView[] = [];
    const headers: Record<string, string> = { ...bearer(key), Accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) };
    const req = http.get(`${url}/v1/events/stream`, { headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)) as EventView);
        }
      });
      res.on('error', () => undefined);
      resolve({ events, close: () => req.destroy() });
    });
    req.on('error', () => undefined);
  });
}

/** A webhook receiver on 127.0.0.1 answering with `answer(eventId, attempt)`. */
async function startReceiver(answer: (eventId: string, attempt: number) => number) {
  const requests: { eventId: string; type: string; body: string; signature: string; status: number }[] = [];
  const attempts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const eventId = String(req.headers['edgefleet-event-id']);
      const attempt = (attempts.get(eventId) ?? 0) + 1;
      attempts.set(eventId, attempt);
      const status = answer(eventId, attempt);
      requests.push({ eventId, type: String(req.headers['edgefleet-event-type']), body, signature: String(req.headers[SIGNATURE_HEADER]), status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('live events', () => {
  let broker: TestBroker;
  let a: TestApp;
  let b: TestApp;
  let viewerKey: string;
  const env = { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_BACKOFF_MS: '50', WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_DISABLE_AFTER_FAILURES: '2', WEBHOOK_SWEEP_MS: '300', EVENTS_POLL_MS: '200' };

  const list = async (t: TestApp, query: Record<string, string | number>) =>
    (await t.http().get('/v1/events').query(query).set(bearer(viewerKey)).expect(200)).body as { items: EventView[]; nextCursor: string | null };

  beforeAll(async () => {
    broker = await startTestBroker();
    a = await startTestApp({ MQTT_URL: broker.url, ...env });
    // A second replica on the same database, Redis queues and broker group.
    b = await startTestApp({
      MQTT_URL: broker.url,
      DATABASE_URL: a.config.database.url,
      KEYS_DIR: a.config.trust.keysDir,
      MQTT_SHARED_GROUP: a.config.mqtt.sharedGroup,
      QUEUE_PREFIX: a.config.rollouts.queuePrefix,
      ...env,
    });
    viewerKey = await createApiKey(a, 'viewer');
  }, 60_000);

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await broker?.stop();
  });

  it('lists the events of a real rollout on simulated nodes, filtered and in keyset pages', async () => {
    await createModel(a, 'digits', 8, 4);
    const v1 = await uploadVersion(a, 'digits', { version: '1.0.0' }, denseSoftmaxModel(1, 8).bytes);
    const ids = await enrolNodes(a, 4, { group: 'listed' });
    const fleet = await SimulatedFleet.start({ url: broker.url, namespace: a.config.mqtt.fleetNamespace }, ids);
    try {
      const rollout = await startRollout(a, { modelVersionId: v1.id, selector: 'group=listed', strategy: { waves: { percentages: [50, 100] } } });
      expect((await waitForRolloutState(a, rollout, ['completed', 'halted'])).state).toBe('completed');

      const ofRollout = await waitFor(() => list(b, { rollout, limit: 1000 }), (p) => p.items.some((e) => e.type === 'rollout.completed'), 10_000, 'rollout.completed');
      const types = ofRollout.items.map((e) => e.type);
      expect(types[0]).toBe('rollout.started');
      expect(types.filter((t) => t === 'rollout.wave-advanced')).toHaveLength(1);
      expect(types.at(-1)).toBe('rollout.completed');
      const committed = ofRollout.items.filter((e) => e.type === 'node.committed');
      expect(committed.map((e) => e.nodeId).sort()).toEqual([...ids].sort());
      expect(committed.every((e) => e.modelVersionId === v1.id)).toBe(true);

      // Type + rollout filter, and the same list walked in pages of 2.
      const filtered = await list(b, { type: 'node.committed', rollout, limit: 1000 });
      expect(filtered.items.map((e) => e.id)).toEqual(committed.map((e) => e.id));
      const paged: EventView[] = [];
      for (let after = '0'; ; ) {
        const page = await list(b, { rollout, limit: 2, after });
        paged.push(...page.items);
        if (!page.nextCursor) break;
        after = page.nextCursor;
      }
      expect(paged.map((e) => e.id)).toEqual(ofRollout.items.map((e) => e.id));

      // A node's events: enrolled, then committed; until (before the rollout) leaves out the rollout's.
      const node = ids[0] as string;
      const ofNode = await list(b, { node, limit: 1000 });
      expect(ofNode.items.map((e) => e.type)).toEqual(expect.arrayContaining(['node.enrolled', 'node.committed']));
      const enrolledAt = ofNode.items.find((e) => e.type === 'node.enrolled') as EventView & { createdAt: string };
      const early = await list(b, { node, until: new Date(new Date(enrolledAt.createdAt).getTime() + 1).toISOString() });
      expect(early.items.map((e) => e.type)).toEqual(['node.enrolled']);

      const bad = await b.http().get('/v1/events').query({ type: 'rollout.exploded' }).set(bearer(viewerKey)).expect(400);
      expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    } finally {
      await fleet.stop();
    }
  }, 60_000);

  it('records a halt by node failures with the failures, and the gate verdict that halts a gated rollout', async () => {
    const v2 = await uploadVersion(a, 'digits', { version: '2.0.0' }, denseSoftmaxModel(2, 8).bytes);
    const v1 = ((await a.db.query(`SELECT id FROM model_versions WHERE version = '1.0.0'`)) as { id: string }[])[0]?.id as string;

    const failing = await enrolNodes(a, 2, { group: 'failing-nodes' });
    const failingFleet = await SimulatedFleet.start({ url: broker.url, namespace: a.config.mqtt.fleetNamespace }, failing, () => 'fail');
    try {
      const halted = await startRollout(a, { modelVersionId: v2.id, selector: 'group=failing-nodes', strategy: { failureThreshold: { count: 1 } } });
      expect((await waitForRolloutState(a, halted, ['halted', 'completed'])).state).toBe('halted');
      const events = await waitFor(() => list(b, { rollout: halted, limit: 1000 }), (p) => p.items.some((e) => e.type === 'rollout.halted'), 10_000, 'rollout.halted');
      const halt = events.items.find((e) => e.type === 'rollout.halted');
      expect(halt?.payload).toMatchObject({ actor: 'engine', reason: expect.stringMatching(/fail/) });
      const failed = events.items.filter((e) => e.type === 'node.failed');
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(failed.every((e) => failing.includes(e.nodeId ?? '') && e.modelVersionId === v2.id && ['failed', 'rolled-back'].includes(String(e.payload['state'])))).toBe(true);
      expect(new Set(failed.map((e) => e.nodeId)).size).toBe(failed.length); // once per node
    } finally {
      await failingFleet.stop();
    }

    // Gated: canaries on v2 answer 5× slower than the control nodes still on v1.
    const gated = await enrolNodes(a, 10, { group: 'gated' });
    const fleet = await SimulatedFleet.start({ url: broker.url, namespace: a.config.mqtt.fleetNamespace }, gated);
    try {
      await waitForRolloutState(a, await startRollout(a, { modelVersionId: v1, selector: 'group=gated' }), ['completed']);
      const beating = setInterval(() => void fleet.heartbeat((_sha, model) => (model?.version === '2.0.0' ? 50 : 10), 50).catch(() => undefined), 200);
      try {
        const id = await startRollout(a, {
          modelVersionId: v2.id,
          selector: 'group=gated',
          strategy: { waves: { percentages: [20, 100] }, bakeSeconds: 30, healthGates: { minSamples: 100, windowSeconds: 5, maxLatencyP99Ratio: 2 } },
        });
        expect((await waitForRolloutState(a, id, ['halted', 'completed'], 25_000)).state).toBe('halted');
        const types = (await list(b, { rollout: id, type: 'rollout.gate-verdict,rollout.halted' })).items;
        expect(types.map((e) => [e.type, e.payload['verdict'] ?? null])).toEqual([
          ['rollout.gate-verdict', 'fail'],
          ['rollout.halted', null],
        ]);
        expect(types[0]?.payload).toMatchObject({ wave: 1, reason: expect.stringMatching(/^latency gate/) });
      } finally {
        clearInterval(beating);
      }
    } finally {
      await fleet.stop();
    }
  }, 90_000);

  it('resumes an SSE stream on another replica after a disconnect without losing or repeating an event, across out-of-order commits', async () => {
    const first = await openStream(b.url, viewerKey);
    const before = await enrolNodes(a, 3, { group: 'sse1' });
    await waitFor(async () => first.events.filter((e) => e.type === 'node.enrolled' && before.includes(e.nodeId ?? '')).length, (n) => n === 3, 10_000, 'first batch');
    first.close();
    const resumeFrom = first.events.at(-1)?.id as string;

    // While nobody listens: more events; then resume on B.
    const during = await enrolNodes(a, 2, { group: 'sse2' });
    const second = await openStream(b.url, viewerKey, resumeFrom);
    try {
      // Live, an id drawn by a transaction that commits after a later id: it must still come, and first.
      const held = new pg.Client({ connectionString: a.config.database.url });
      await held.connect();
      await held.query('BEGIN');
      const [heldRow] = (await held.query(`INSERT INTO events (type, payload) VALUES ('node.online', '{}') RETURNING id::text AS id`)).rows as { id: string }[];
      const later = await enrolNodes(a, 1, { group: 'sse3' });
      // B's feed has read the later id: it holds at the one in flight (a feed that went by the ids it sees
      // would move past it, and the live stream would never send it).
      const feed = b.app.get(EventFeed);
      const heldId = BigInt(heldRow?.id ?? '0');
      await waitFor(async () => [feed.waitingFor, feed.watermark] as const, ([waiting, mark]) => waiting === heldId || mark > heldId, 10_000, 'the feed to read past the in-flight id');
      await held.query('COMMIT');
      await held.end();

      // A rolled-back id leaves a gap the feed gives up once the transaction is gone.
      const rolledBack = new pg.Client({ connectionString: a.config.database.url });
      await rolledBack.connect();
      await rolledBack.query('BEGIN');
      await rolledBack.query(`INSERT INTO events (type, payload) VALUES ('node.online', '{}')`);
      const last = await enrolNodes(a, 1, { group: 'sse4' });
      await rolledBack.query('ROLLBACK');
      await rolledBack.end();

      const expected = (await list(a, { after: resumeFrom, limit: 1000 })).items.map((e) => e.id);
      expect(expected).toContain(heldRow?.id);
      await waitFor(async () => second.events.map((e) => e.id), (got) => expected.every((id) => got.includes(id)), 15_000, 'every event after the resume point');
      const got = [...first.events, ...second.events].map((e) => BigInt(e.id));
      expect(new Set(got).size).toBe(got.length); // nothing twice
      expect([...got].sort((x, y) => (x < y ? -1 : 1))).toEqual(got); // in id order
      const enrolled = new Set([...first.events, ...second.events].filter((e) => e.type === 'node.enrolled').map((e) => e.nodeId));
      for (const id of [...before, ...during, ...later, ...last]) expect(enrolled.has(id)).toBe(true);
    } finally {
      second.close();
    }
  }, 60_000);

  it('delivers each matching event once to a webhook, signed, retrying after a 500', async () => {
    // The first attempt of the first event gets a 500; everything else a 200.
    let failedOnce = false;
    const receiver = await startReceiver((_id, attempt) => (!failedOnce && attempt === 1 ? ((failedOnce = true), 500) : 200));
    try {
      const created = await a.http().post('/v1/webhooks').set(bearer(a.adminKey)).send({ url: receiver.url, eventTypes: ['node.enrolled'] }).expect(201);
      const { id: webhookId, secret } = created.body as { id: string; secret: string };
      expect(secret).toMatch(/^whsec_/);
      const listed = (await a.http().get('/v1/webhooks').set(bearer(a.adminKey)).expect(200)).body as Record<string, unknown>[];
      expect(listed.find((w) => w['id'] === webhookId)).not.toHaveProperty('secret');
      await a.http().get('/v1/webhooks').set(bearer(viewerKey)).expect(403);

      const ids = await enrolNodes(a, 3, { group: 'hooked' });
      const accepted = () => receiver.requests.filter((r) => r.status === 200);
      await waitFor(async () => accepted().length, (n) => n >= 3, 20_000, 'three accepted deliveries');
      const deliveries = await waitFor(
        async () => (await a.http().get(`/v1/webhooks/${webhookId}/deliveries`).set(bearer(a.adminKey)).expect(200)).body as { eventId: string; state: string; attempts: number; lastStatusCode: number }[],
        (d) => d.length === 3 && d.every((x) => x.state === 'succeeded'),
        10_000,
        'the delivery log',
      );

      const bodies = accepted().map((r) => JSON.parse(r.body) as EventView);
      expect(bodies.map((e) => e.nodeId).sort()).toEqual([...ids].sort());
      expect(new Set(accepted().map((r) => r.eventId)).size).toBe(3); // once each, though two replicas fan out
      expect(receiver.requests.every((r) => r.type === 'node.enrolled')).toBe(true);
      for (const r of receiver.requests) expect(verifySignature(secret, r.signature, r.body, Math.floor(Date.now() / 1000))).toBe(true);
      expect(verifySignature('whsec_wrong', receiver.requests[0]?.signature ?? '', receiver.requests[0]?.body ?? '', Math.floor(Date.now() / 1000))).toBe(false);
      // The 500 was retried: that event took two attempts, the others one.
      expect(receiver.requests.filter((r) => r.status === 500)).toHaveLength(1);
      expect(deliveries.map((d) => d.attempts).sort()).toEqual([1, 1, 2]);
      await a.http().delete(`/v1/webhooks/${webhookId}`).set(bearer(a.adminKey)).expect(204);
    } finally {
      await receiver.close();
    }
  }, 60_000);

  it('queues again a delivery left pending without a job (a replica crashed after the fan-out)', async () => {
    const receiver = await startReceiver(() => 200);
    try {
      const created = await a.http().post('/v1/webhooks').set(bearer(a.adminKey)).send({ url: receiver.url, eventTypes: ['node.offline'] }).expect(201);
      const webhookId = (created.body as { id: string }).id;
      // The fan-out's rows without its jobs, in one transaction holding the cursor row (so no replica fans
      // this event out itself): what a crash between the fan-out's commit and addBulk leaves.
      const event = await a.db.transaction(async (tx) => {
        const [row] = (await tx.query(`INSERT INTO events (type, payload) VALUES ('node.offline', '{}') RETURNING id::text AS id`)) as { id: string }[];
        await tx.query(`UPDATE webhook_dispatch_cursor SET last_event_id = greatest(last_event_id, $1)`, [row?.id]);
        await tx.query(`INSERT INTO webhook_deliveries (webhook_id, event_id, updated_at) VALUES ($1, $2, now() - interval '1 hour')`, [webhookId, row?.id]);
        return row;
      });
      await waitFor(async () => receiver.requests.filter((r) => r.eventId === event?.id && r.status === 200).length, (n) => n === 1, 10_000, 'the swept delivery');
      await a.http().delete(`/v1/webhooks/${webhookId}`).set(bearer(a.adminKey)).expect(204);
    } finally {
      await receiver.close();
    }
  });

  it('disables a webhook after repeated failed deliveries and sends it nothing more', async () => {
    const receiver = await startReceiver(() => 500);
    try {
      const created = await a.http().post('/v1/webhooks').set(bearer(a.adminKey)).send({ url: receiver.url, eventTypes: ['node.enrolled'] }).expect(201);
      const webhookId = (created.body as { id: string }).id;
      await enrolNodes(a, 2, { group: 'failing' });
      const disabled = await waitFor(
        async () => ((await a.http().get('/v1/webhooks').set(bearer(a.adminKey)).expect(200)).body as { id: string; disabledAt: string | null; disabledReason: string | null }[]).find((w) => w.id === webhookId),
        (w) => w?.disabledAt != null,
        20_000,
        'the webhook disabled',
      );
      expect(disabled?.disabledReason).toMatch(/2 deliveries in a row failed/);
      expect(receiver.requests).toHaveLength(2 * 3); // two deliveries, three attempts each
      const log = (await a.http().get(`/v1/webhooks/${webhookId}/deliveries`).set(bearer(a.adminKey)).expect(200)).body as { state: string; lastStatusCode: number }[];
      expect(log.map((d) => [d.state, d.lastStatusCode])).toEqual([['failed', 500], ['failed', 500]]);

      // Later events make no delivery for it.
      const [late] = await enrolNodes(a, 1, { group: 'failing-late' });
      const lateEvent = await waitFor(async () => (await list(a, { node: late as string })).items[0], (e) => e !== undefined, 10_000, 'the later event');
      const cursor = async () => ((await a.db.query(`SELECT last_event_id::text AS id FROM webhook_dispatch_cursor`)) as { id: string }[])[0]?.id ?? '0';
      await waitFor(cursor, (id) => BigInt(id) >= BigInt(lateEvent?.id ?? '0'), 10_000, 'the fan-out past the later event');
      expect(((await a.db.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1`, [webhookId])) as { n: number }[])[0]?.n).toBe(2);
    } finally {
      await receiver.close();
    }
  }, 60_000);

  it('re-enables a disabled webhook (admin only, audited): the failure count restarts and later events are delivered', async () => {
    let answer = 500;
    const receiver = await startReceiver(() => answer);
    try {
      const webhookId = ((await a.http().post('/v1/webhooks').set(bearer(a.adminKey)).send({ url: receiver.url, eventTypes: ['node.enrolled'] }).expect(201)).body as { id: string }).id;
      await enrolNodes(a, 2, { group: 'reenable-failing' });
      const listed = async () => ((await a.http().get('/v1/webhooks').set(bearer(a.adminKey)).expect(200)).body as { id: string; disabledAt: string | null; consecutiveFailures: number }[]).find((w) => w.id === webhookId);
      await waitFor(listed, (w) => w?.disabledAt != null, 20_000, 'the webhook disabled');

      const operatorKey = await createApiKey(a, 'operator');
      await a.http().patch(`/v1/webhooks/${webhookId}`).set(bearer(operatorKey)).send({ enabled: true }).expect(403);
      await a.http().patch(`/v1/webhooks/${webhookId}`).set(bearer(a.adminKey)).send({ enabled: 'yes' }).expect(400);
      await a.http().patch('/v1/webhooks/00000000-0000-4000-8000-000000000000').set(bearer(a.adminKey)).send({ enabled: true }).expect(404);
      const enabled = (await a.http().patch(`/v1/webhooks/${webhookId}`).set(bearer(a.adminKey)).send({ enabled: true }).expect(200)).body as Record<string, unknown>;
      expect(enabled).toMatchObject({ id: webhookId, disabledAt: null, disabledReason: null, consecutiveFailures: 0 });
      expect(enabled).not.toHaveProperty('secret');
      // Enabling an enabled webhook changes nothing and writes no second audit row.
      await a.http().patch(`/v1/webhooks/${webhookId}`).set(bearer(a.adminKey)).send({ enabled: true }).expect(200);
      const audit = (await a.http().get('/v1/audit-events').query({ targetType: 'webhook', targetId: webhookId }).set(bearer(a.adminKey)).expect(200)).body as { action: string; details: Record<string, unknown> }[];
      expect(audit.map((e) => e.action)).toEqual(['webhook.enable', 'webhook.create']);
      expect(audit[0]?.details).toMatchObject({ consecutiveFailures: 2, previousReason: expect.stringMatching(/2 deliveries in a row failed/) });

      // From now on it gets deliveries again: the next enrolment is delivered, once, and succeeds.
      answer = 204;
      const before = receiver.requests.length;
      const [late] = await enrolNodes(a, 1, { group: 'reenable-late' });
      const delivered = await waitFor(async () => receiver.requests.slice(before), (r) => r.some((x) => x.status === 204), 20_000, 'a delivery after re-enabling');
      const lateEvent = (await list(a, { node: late as string, type: 'node.enrolled' })).items[0];
      expect(delivered.map((r) => [r.eventId, r.status])).toEqual([[lateEvent?.id, 204]]);

      // Disabling by hand is the other direction, audited too.
      const disabled = (await a.http().patch(`/v1/webhooks/${webhookId}`).set(bearer(a.adminKey)).send({ enabled: false }).expect(200)).body as { disabledAt: string | null; disabledReason: string };
      expect(disabled.disabledAt).not.toBeNull();
      expect(disabled.disabledReason).toMatch(/^disabled by /);
      await a.http().delete(`/v1/webhooks/${webhookId}`).set(bearer(a.adminKey)).expect(204);
    } finally {
      await receiver.close();
    }
  }, 60_000);

  it('records key.rotated once per root version though every replica reloads the rotated keys', async () => {
    const rotated = await new KeyStore(a.config.trust.keysDir).rotate('release', 30);
    for (const t of [a, b]) await t.http().post('/v1/trust/reload').set(bearer(t.adminKey)).expect(200);
    const events = (await list(b, { type: 'key.rotated' })).items;
    expect(events.map((e) => e.payload)).toEqual([{ rootVersion: rotated.version, revokedKeyIds: [...rotated.revokedKeyIds] }]);
  });

  it('refuses to connect a webhook to a loopback address, by literal or by name, unless allowed', async () => {
    const strict = { timeoutMs: 1000, allowPrivate: false };
    await expect(postWebhook('http://127.0.0.1:9/hook', '{}', {}, strict)).rejects.toMatchObject({ permanent: true });
    await expect(postWebhook('http://localhost:9/hook', '{}', {}, strict)).rejects.toMatchObject({ permanent: true });
    await expect(postWebhook('http://[::1]:9/hook', '{}', {}, strict)).rejects.toMatchObject({ permanent: true });
  });
});
