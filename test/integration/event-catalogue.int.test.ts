import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EVENT_TYPES } from '../../apps/control-plane/src/events/catalogue.js';
import { bearer, createApiKey, startTestApp, type TestApp } from '../helpers/test-app.js';

describe('GET /v1/events/types: the event catalogue for clients', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('gives a viewer every type of the catalogue, in its order, and refuses a request without a key', async () => {
    const viewer = await createApiKey(t, 'viewer');
    const res = await t.http().get('/v1/events/types').set(bearer(viewer)).expect(200);
    expect(res.body).toEqual({ types: [...EVENT_TYPES] });
    // Each listed type is one the filters take.
    await t.http().get('/v1/events').query({ type: res.body.types.join(',') }).set(bearer(viewer)).expect(200);
    const anonymous = await t.http().get('/v1/events/types').expect(401);
    expect(anonymous.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});
