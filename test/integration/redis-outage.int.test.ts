import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../helpers/agent-process.js';
import { healthOf, OutageRollout } from '../helpers/outage-rollout.js';
import { type OwnService, startOwnRedis } from '../helpers/own-services.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

/** How long Redis stays down once /health has seen it: several sweeps and many ticks' worth. */
const OUTAGE_MS = 8_000;

/**
 * Redis (the test's own, without persistence) is SIGKILLed mid-rollout and comes back empty: every
 * BullMQ job, delayed tick and job scheduler is gone. The control plane must say so on /health, keep
 * storing node traffic (ingest does not use Redis), and once Redis answers again resume the rollout by
 * itself — without deploying any node twice.
 */
describe('Redis restarted mid-rollout', () => {
  let redis: OwnService;
  let broker: TestBroker;
  let t: TestApp;
  let rollout: OutageRollout | undefined;

  beforeAll(async () => {
    [redis, broker] = await Promise.all([startOwnRedis(), startTestBroker()]);
    t = await startTestApp({ REDIS_URL: redis.url, MQTT_URL: broker.url });
  }, 120_000);

  afterAll(async () => {
    await rollout?.stop();
    await t?.close();
    await Promise.all([redis?.stop(), broker?.stop()]);
  });

  it('reports Redis down while it is, then resumes the rollout by itself and completes it, each node deployed once', async () => {
    rollout = await OutageRollout.start(t, broker, 'redis-outage', 4);
    const before = await rollout.midway();

    await redis.pause();
    const down = await waitFor(() => healthOf(t), (h) => h.code === 503, 30_000, '/health reporting 503');
    expect(down.down).toContain('redis');
    expect(down.down).not.toContain('postgres');
    const downAt = Date.now();
    // An operator pauses meanwhile: the action is stored and answered while Redis is still down (it
    // used to wait for Redis, hanging the request for the whole outage). No ticks run; nodes keep
    // sending (ingest goes to PostgreSQL, not Redis).
    const outage = new Promise<'outage over'>((r) => setTimeout(r, OUTAGE_MS, 'outage over'));
    const pausing = t.http().post(`/v1/rollouts/${rollout.rolloutId}/pause`).set(bearer(t.adminKey)).then((res) => res.status);
    expect(await Promise.race([pausing, outage])).toBe(200);
    await outage;
    const during = await rollout.committed();
    expect(await healthOf(t)).toMatchObject({ code: 503 });
    await redis.resume();
    await t.http().post(`/v1/rollouts/${rollout.rolloutId}/resume`).set(bearer(t.adminKey)).expect(200);

    await waitFor(() => healthOf(t), (h) => h.code === 200, 30_000, '/health back to 200');
    const state = await waitFor(() => rollout?.state() ?? Promise.resolve('?'), (s) => s !== 'running' && s !== 'scheduled', 120_000, 'rollout finished');
    const resumedInS = Math.round((Date.now() - downAt) / 1000);
    expect(state).toBe('completed');
    await rollout.stopTraffic();
    const counts = await rollout.expectNothingLost();
    console.log(
      `Redis down ${OUTAGE_MS / 1000} s after /health saw it (${before} → ${during} nodes committed meanwhile); rollout completed ${resumedInS} s after; ` +
        `stored: ${counts.statuses} statuses, ${counts.heartbeats} heartbeats, ${counts.results} result records, none lost or doubled`,
    );
  }, 300_000);
});
