import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import pg from 'pg';
import { EventFeed } from '../../apps/control-plane/src/events/event-feed.js';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, enrolNodes, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import type { TestBroker } from '../helpers/test-broker.js';
import { bearer, type TestApp } from '../helpers/test-app.js';
import { startTwoReplicas, stopTwoReplicas } from '../helpers/two-replicas.js';

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

describe('live events', () => {
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

  it('records key.rotated once per root version though every replica reloads the rotated keys', async () => {
    const rotated = await new KeyStore(a.config.trust.keysDir).rotate('release', 30);
    for (const t of [a, b]) await t.http().post('/v1/trust/reload').set(bearer(t.adminKey)).expect(200);
    const events = (await list(b, { type: 'key.rotated' })).items;
    expect(events.map((e) => e.payload)).toEqual([{ rootVersion: rotated.version, revokedKeyIds: [...rotated.revokedKeyIds] }]);
  });
});
