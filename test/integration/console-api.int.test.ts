import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createModel, enrolNodes, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createApiKey, startTestApp, type TestApp } from '../helpers/test-app.js';

// The routes the web console reads besides the existing ones: who am I, the fleet's counts, a node's heartbeats.
describe('console API: whoami, fleet summary, node heartbeats', () => {
  let t: TestApp;
  let ids: string[];
  let versionId: string;

  beforeAll(async () => {
    t = await startTestApp();
    ids = [...(await enrolNodes(t, 5, { site: 'lyon' })), ...(await enrolNodes(t, 2, { site: 'oslo' }))];
    await createModel(t, 'digits', 16, 4);
    versionId = (await uploadVersion(t, 'digits', { version: '1.0.0' }, denseSoftmaxModel(5, 16, 4).bytes)).id;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  /** A deployment to `nodes` whose targets are in `state` (null: sent, not acknowledged), `minutesAgo` old. */
  async function targets(nodes: string[], state: string | null, minutesAgo: number): Promise<void> {
    const [d] = (await t.db.query(`INSERT INTO deployments (model_version_id, chunk_size, created_by) VALUES ($1, 131072, 'test') RETURNING id`, [versionId])) as { id: string }[];
    for (const node of nodes) {
      await t.db.query(`INSERT INTO deployment_targets (deployment_id, node_id, state, updated_at) VALUES ($1, $2, $3, now() - make_interval(mins => $4))`, [d?.id, node, state, minutesAgo]);
    }
  }

  it('whoami names the calling key and its role, and needs a key', async () => {
    const viewer = await createApiKey(t, 'viewer');
    const me = await t.http().get('/v1/whoami').set(bearer(viewer)).expect(200);
    expect(me.body).toEqual({ actor: expect.stringMatching(/^api-key:/), role: 'viewer' });
    expect((await t.http().get('/v1/whoami').set(bearer(t.adminKey)).expect(200)).body.role).toBe('admin');
    await t.http().get('/v1/whoami').expect(401);
  });

  it('counts by status, and updating / failed by each node’s latest deployment, within a selector', async () => {
    const [a, b, c, d, e, f] = ids as [string, string, string, string, string, string, string];
    await t.db.query(`UPDATE nodes SET status = 'online' WHERE id = ANY($1)`, [[a, b, c]]);
    await t.db.query(`UPDATE nodes SET status = 'decommissioned', decommissioned_at = now() WHERE id = $1`, [f]);
    await targets([a, b, c], 'committed', 30); // old outcomes
    await targets([b], 'failed', 10); // b's latest failed
    await targets([c], 'downloading', 5); // c's latest is under way
    await targets([d], null, 1); // d was sent one, no answer yet
    await targets([e], 'rolled-back', 2);
    await targets([f], 'failed', 1); // decommissioned: not counted as failed
    const all = await t.http().get('/v1/nodes/summary').set(bearer(t.adminKey)).expect(200);
    expect(all.body).toEqual({ total: 7, online: 3, offline: 3, decommissioned: 1, updating: 2, failed: 2 });
    const lyon = await t.http().get('/v1/nodes/summary').query({ selector: 'site=lyon' }).set(bearer(t.adminKey)).expect(200);
    expect(lyon.body).toEqual({ total: 5, online: 3, offline: 2, decommissioned: 0, updating: 2, failed: 2 });
    const bad = await t.http().get('/v1/nodes/summary').query({ selector: 'site in (lyon' }).set(bearer(t.adminKey)).expect(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
  });

  it('gives a node’s latest heartbeats oldest first, bounded, and 404 for an unknown node', async () => {
    const node = ids[6] as string;
    for (let seq = 1; seq <= 5; seq++) {
      await t.db.query(
        `INSERT INTO node_heartbeats (node_id, seq, sent_at, uptime_s, cpu, mem_mb, free_disk_mb, inferences, errors, latency_p50_ms, latency_p99_ms)
         VALUES ($1, $2::bigint, now() - make_interval(secs => $3), $2::bigint, $4, 100 + $2::int, 1000, 10 * $2::bigint, 0, 1.5, 4)`,
        [node, seq, 60 - seq, seq / 10],
      );
    }
    const res = await t.http().get(`/v1/nodes/${node}/heartbeats`).query({ limit: 3 }).set(bearer(t.adminKey)).expect(200);
    expect(res.body.map((h: { memMb: number }) => h.memMb)).toEqual([103, 104, 105]);
    expect(res.body[2]).toEqual({ sentAt: expect.any(String), cpu: expect.closeTo(0.5, 5), memMb: 105, inferences: 50, errors: 0, latencyP50Ms: 1.5, latencyP99Ms: 4 });
    await t.http().get(`/v1/nodes/${node}/heartbeats`).query({ limit: 1001 }).set(bearer(t.adminKey)).expect(400);
    await t.http().get('/v1/nodes/00000000-0000-4000-8000-000000000000/heartbeats').set(bearer(t.adminKey)).expect(404);
  });
});
