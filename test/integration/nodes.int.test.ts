import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { type Labels, matchesSelector, parseLabelSelector } from '../../apps/control-plane/src/nodes/label-selector.js';
import { bearer, createApiKey, hardware, startTestApp, type TestApp } from '../helpers/test-app.js';

const NODE_COUNT = 1200;
const SITES = ['lyon', 'oslo', 'kyiv', 'lima'];
const TIERS = ['canary', 'stable'];

/** Deterministic, varied labels: some nodes lack a key, so existence and negations matter. */
function labelsFor(i: number): Labels {
  const labels: Labels = { site: SITES[i % 4] ?? 'lyon' };
  if (i % 3 !== 0) labels['tier'] = TIERS[i % 2] ?? 'stable';
  if (i % 7 === 0) labels['edgefleet.io/accelerator'] = 'npu';
  return labels;
}

interface Page {
  items: { id: string; labels: Labels; status: string }[];
  nextCursor: string | null;
}

describe('nodes: listing with label selectors, filters and cursor pagination over 1,200 nodes', () => {
  let t: TestApp;
  let viewer: string;
  const nodes = new Map<string, Labels>();

  beforeAll(async () => {
    t = await startTestApp();
    viewer = await createApiKey(t, 'viewer');
    // Seeded in one statement: this suite tests the query path; enrolment has its own suite.
    const rows = Array.from({ length: NODE_COUNT }, (_, i) => ({ id: randomUUID(), key: `seed-node-${i}`, labels: labelsFor(i), online: i % 5 === 0 }));
    for (const r of rows) nodes.set(r.id, r.labels);
    await t.db.query(
      `INSERT INTO nodes (id, node_key, name, labels, hardware, status)
       SELECT x.id, x.key, x.key, x.labels, $2::jsonb, CASE WHEN x.online THEN 'online'::node_status ELSE 'offline'::node_status END
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, key text, labels jsonb, online boolean)`,
      [JSON.stringify(rows), JSON.stringify(hardware)],
    );
  });
  afterAll(() => t.close());

  async function listAll(query: string, limit = 250): Promise<Page['items']> {
    const items: Page['items'] = [];
    let cursor: string | null = null;
    do {
      const qs = new URLSearchParams({ ...(query ? { selector: query } : {}), limit: String(limit), ...(cursor ? { cursor } : {}) });
      const res = await t.http().get(`/v1/nodes?${qs}`).set(bearer(viewer)).expect(200);
      const page = res.body as Page;
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  }

  it.each([
    '',
    'site=lyon',
    'site==oslo,tier=canary',
    'site!=lyon',
    'tier in (canary)',
    'site in (kyiv,lima),tier notin (stable)',
    'tier',
    '!tier',
    'edgefleet.io/accelerator=npu,site!=oslo',
    'site=nowhere',
  ])('returns exactly the nodes matching %j, each once, across pages', async (selector) => {
    const expected = [...nodes.entries()].filter(([, labels]) => matchesSelector(labels, parseLabelSelector(selector))).map(([id]) => id);
    const items = await listAll(selector);
    const ids = items.map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(expected.sort());
  });

  it('filters by status and by model version', async () => {
    const online = await t.http().get('/v1/nodes?status=online&limit=1000').set(bearer(viewer)).expect(200);
    expect((online.body as Page).items).toHaveLength(NODE_COUNT / 5);
    const none = await t.http().get(`/v1/nodes?modelVersionId=${randomUUID()}`).set(bearer(viewer)).expect(200);
    expect((none.body as Page).items).toEqual([]);
  });

  it('pages with a stable cursor and no overlap', async () => {
    const first = (await t.http().get('/v1/nodes?limit=100').set(bearer(viewer)).expect(200)).body as Page;
    const second = (await t.http().get(`/v1/nodes?limit=100&cursor=${first.nextCursor}`).set(bearer(viewer)).expect(200)).body as Page;
    expect(first.items).toHaveLength(100);
    expect(second.items).toHaveLength(100);
    expect(second.items[0]!.id > first.items[99]!.id).toBe(true);
  });

  it('gets one node, and 404s an unknown one', async () => {
    const [id] = nodes.keys();
    const res = await t.http().get(`/v1/nodes/${id}`).set(bearer(viewer)).expect(200);
    expect(res.body).toMatchObject({ id, hardware });
    await t.http().get(`/v1/nodes/${randomUUID()}`).set(bearer(viewer)).expect(404);
    await t.http().get('/v1/nodes/not-a-uuid').set(bearer(viewer)).expect(400);
  });

  it('updates labels with a merge patch (null removes) and audits the change', async () => {
    const id = [...nodes.keys()][1]!;
    const res = await t
      .http()
      .patch(`/v1/nodes/${id}`)
      .set(bearer(t.adminKey))
      .send({ labels: { tier: null, ring: 'r1' } })
      .expect(200);
    expect(res.body.labels).toEqual({ site: nodes.get(id)!['site'], ring: 'r1' });
    await t.http().patch(`/v1/nodes/${id}`).set(bearer(t.adminKey)).send({ labels: { 'bad key': 'x' } }).expect(400);
    const audit = await t.http().get(`/v1/audit-events?targetType=node&targetId=${id}`).set(bearer(viewer)).expect(200);
    expect(audit.body[0]).toMatchObject({ action: 'node.update-labels', details: { after: res.body.labels } });
  });

  it('decommissions a node: status changes and its credential is revoked', async () => {
    const id = [...nodes.keys()][2]!;
    await t.db.query(`UPDATE nodes SET secret_hash = repeat('a', 64) WHERE id = $1`, [id]);
    const res = await t.http().post(`/v1/nodes/${id}/decommission`).set(bearer(t.adminKey)).expect(200);
    expect(res.body).toMatchObject({ status: 'decommissioned', decommissionedAt: expect.any(String) });
    const [row] = (await t.db.query('SELECT secret_hash FROM nodes WHERE id = $1', [id])) as { secret_hash: string | null }[];
    expect(row?.secret_hash).toBeNull();
  });
});
