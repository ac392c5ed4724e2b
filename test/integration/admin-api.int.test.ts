import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bearer, createApiKey, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';

describe('admin API: access, validation, audit, docs, health, metrics', () => {
  let t: TestApp;
  let viewer: string;
  let operator: string;
  beforeAll(async () => {
    t = await startTestApp({ JSON_BODY_LIMIT_BYTES: '4096' });
    viewer = await createApiKey(t, 'viewer');
    operator = await createApiKey(t, 'operator');
  });
  afterAll(() => t.close());

  const model = { name: 'digits', task: 'image-classification', inputSpec: { shape: [1, 28, 28, 1] }, outputSpec: { shape: [1, 10] } };

  describe('access', () => {
    it('answers 401 problem+json without a key, with a WWW-Authenticate challenge', async () => {
      const res = await t.http().get('/v1/nodes').expect(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized', instance: '/v1/nodes' });
    });

    it('answers 401 for an unknown key', async () => {
      await t.http().get('/v1/nodes').set(bearer('efk_nope')).expect(401);
    });

    it('lets a viewer read but not mutate (403)', async () => {
      await t.http().get('/v1/nodes').set(bearer(viewer)).expect(200);
      const res = await t.http().post('/v1/models').set(bearer(viewer)).send(model).expect(403);
      expect(res.body.detail).toBe("role 'viewer' cannot do this; it needs 'operator'");
    });

    it('keeps key and token management to admins', async () => {
      await t.http().post('/v1/api-keys').set(bearer(operator)).send({ name: 'x', role: 'admin' }).expect(403);
      await t.http().get('/v1/enrollment-tokens').set(bearer(operator)).expect(403);
    });

    it('stops accepting a key once revoked', async () => {
      const created = await t.http().post('/v1/api-keys').set(bearer(t.adminKey)).send({ name: 'temp', role: 'viewer' }).expect(201);
      await t.http().get('/v1/nodes').set(bearer(created.body.key)).expect(200);
      await t.http().delete(`/v1/api-keys/${created.body.id}`).set(bearer(t.adminKey)).expect(204);
      await t.http().get('/v1/nodes').set(bearer(created.body.key)).expect(401);
    });

    it('stores API keys hashed only', async () => {
      const dump = JSON.stringify(await t.db.query('SELECT * FROM api_keys'));
      expect(dump).not.toContain(operator);
    });
  });

  describe('validation (400 problem+json)', () => {
    it('rejects wrong types with the field named', async () => {
      const res = await t.http().post('/v1/models').set(bearer(operator)).send({ ...model, task: 42 }).expect(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.errors).toContainEqual({ field: 'task', message: 'task must be a string' });
      expect(res.body.errors.every((e: { field: string }) => e.field === 'task')).toBe(true);
    });

    it('rejects unknown fields', async () => {
      const res = await t.http().post('/v1/models').set(bearer(operator)).send({ ...model, colour: 'red' }).expect(400);
      expect(res.body.errors).toEqual([{ field: 'colour', message: 'property colour should not exist' }]);
    });

    it('rejects unknown and malformed query parameters', async () => {
      await t.http().get('/v1/nodes?color=red').set(bearer(viewer)).expect(400);
      await t.http().get('/v1/nodes?limit=zero').set(bearer(viewer)).expect(400);
      await t.http().get('/v1/nodes?selector=bad%20key%3D1').set(bearer(viewer)).expect(400);
    });

    it('rejects malformed JSON', async () => {
      const res = await t.http().post('/v1/models').set(bearer(operator)).set('Content-Type', 'application/json').send('{"name":').expect(400);
      expect(res.body.status).toBe(400);
    });

    it('rejects oversized bodies (413)', async () => {
      const res = await t.http().post('/v1/models').set(bearer(operator)).send({ ...model, description: 'x'.repeat(5000) }).expect(413);
      expect(res.headers['content-type']).toContain('application/problem+json');
    });

    it('answers unknown routes with 404 problem+json', async () => {
      const res = await t.http().get('/v1/nothing-here').set(bearer(viewer)).expect(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
    });
  });

  it('writes an audit row for every mutation, naming the actor', async () => {
    const created = await t.http().post('/v1/models').set(bearer(operator)).send({ ...model, name: 'audited' }).expect(201);
    const { id: tokenId } = await createEnrollmentToken(t);
    const events = await t.http().get('/v1/audit-events').set(bearer(viewer)).expect(200);
    const actions = (events.body as { action: string; targetId: string; actor: string }[]).map((e) => `${e.action}:${e.targetId}`);
    expect(actions).toEqual(expect.arrayContaining([`model.create:${created.body.id}`, `enrollment-token.create:${tokenId}`]));
    const modelEvent = (events.body as { action: string; actor: string }[]).find((e) => e.action === 'model.create');
    expect(modelEvent?.actor).toMatch(/^api-key:/);
    const filtered = await t.http().get(`/v1/audit-events?targetType=model&targetId=${created.body.id}`).set(bearer(viewer)).expect(200);
    expect(filtered.body).toHaveLength(1);
  });

  it('does not write audit rows for refused mutations', async () => {
    const before = (await t.db.query('SELECT count(*)::int AS n FROM audit_events')) as { n: number }[];
    await t.http().post('/v1/models').set(bearer(viewer)).send({ ...model, name: 'refused' }).expect(403);
    await t.http().post('/v1/models').set(bearer(operator)).send({ ...model, name: 'Bad Name' }).expect(400);
    const after = (await t.db.query('SELECT count(*)::int AS n FROM audit_events')) as { n: number }[];
    expect(after[0]?.n).toBe(before[0]?.n);
  });

  it('serves OpenAPI at /docs-json and the UI at /docs', async () => {
    const json = await t.http().get('/docs-json').expect(200);
    expect(Object.keys(json.body.paths)).toEqual(expect.arrayContaining(['/v1/nodes', '/v1/enroll', '/v1/models/{name}/versions', '/v1/artifacts/{sha256}']));
    await t.http().get('/docs').expect(200);
  });

  it('reports PostgreSQL, Redis, the broker and telemetry ingest on /health', async () => {
    // The MQTT client connects in the background; give it a moment.
    let res = await t.http().get('/health');
    for (let i = 0; i < 50 && res.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await t.http().get('/health');
    }
    expect(res.status).toBe(200);
    expect(res.body.info).toEqual({
      postgres: expect.objectContaining({ status: 'up' }),
      redis: expect.objectContaining({ status: 'up' }),
      mqtt: expect.objectContaining({ status: 'up' }),
      ingest: expect.objectContaining({ status: 'up', maxLagMs: 30_000 }),
    });
  });

  it('exposes Prometheus metrics with per-route request counts', async () => {
    const res = await t.http().get('/metrics').expect(200);
    expect(res.text).toMatch(/http_request_duration_seconds_count\{[^}]*method="GET",route="\/v1\/nodes",status="401"\} [1-9]/);
    expect(res.text).toContain('process_cpu_seconds_total');
  });
});

describe('health when a dependency is down', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Nothing listens on port 1: the broker check must fail and /health must say so.
    t = await startTestApp({ MQTT_URL: 'mqtt://127.0.0.1:1' });
  });
  afterAll(() => t.close());

  it('answers 503 naming the broker', async () => {
    const res = await t.http().get('/health').expect(503);
    expect(res.body.error.mqtt).toMatchObject({ status: 'down' });
    expect(res.body.info.postgres).toMatchObject({ status: 'up' });
  });
});
