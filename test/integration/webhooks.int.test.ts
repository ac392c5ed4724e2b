import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { postWebhook } from '../../apps/control-plane/src/webhooks/webhook-sender.js';
import { SIGNATURE_HEADER, verifySignature } from '../../apps/control-plane/src/webhooks/webhook-signature.js';
import { waitFor } from '../helpers/agent-process.js';
import { enrolNodes } from '../helpers/fleet.js';
import type { TestBroker } from '../helpers/test-broker.js';
import { bearer, createApiKey, type TestApp } from '../helpers/test-app.js';
import { startTwoReplicas, stopTwoReplicas } from '../helpers/two-replicas.js';

interface EventView {
  id: string;
  type: string;
  nodeId: string | null;
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

/** Webhooks on two replicas of one installation: each event delivered once, signed, retried, disabled, re-enabled. */
describe('webhooks', () => {
  let broker: TestBroker;
  let a: TestApp;
  let b: TestApp;
  let viewerKey: string;
  const env = { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_BACKOFF_MS: '50', WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_DISABLE_AFTER_FAILURES: '2', WEBHOOK_SWEEP_MS: '300', EVENTS_POLL_MS: '200' };

  const list = async (t: TestApp, query: Record<string, string | number>) =>
    (await t.http().get('/v1/events').query(query).set(bearer(viewerKey)).expect(200)).body as { items: EventView[]; nextCursor: string | null };

  beforeAll(async () => {
    ({ broker, a, b, viewerKey } = await startTwoReplicas(env));
  }, 60_000);

  afterAll(() => stopTwoReplicas({ broker, a, b }));

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

  it('refuses to connect a webhook to a loopback address, by literal or by name, unless allowed', async () => {
    const strict = { timeoutMs: 1000, allowPrivate: false };
    await expect(postWebhook('http://127.0.0.1:9/hook', '{}', {}, strict)).rejects.toMatchObject({ permanent: true });
    await expect(postWebhook('http://localhost:9/hook', '{}', {}, strict)).rejects.toMatchObject({ permanent: true });
    await expect(postWebhook('http://[::1]:9/hook', '{}', {}, strict)).rejects.toMatchObject({ permanent: true });
  });
});
