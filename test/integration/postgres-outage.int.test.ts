import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../helpers/agent-process.js';
import { healthOf, OutageRollout } from '../helpers/outage-rollout.js';
import { type OwnService, startOwnPostgres } from '../helpers/own-services.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

/** How long PostgreSQL stays down once /health has seen it: longer than a rollout tick's retries and an ingest flush. */
const OUTAGE_MS = 8_000;

/**
 * PostgreSQL (the test's own cluster) is stopped hard (`pg_ctl -m immediate`: no checkpoint, crash
 * recovery at the next start) mid-rollout while every node keeps heartbeating, sending results and
 * answering its desired state. The control plane must report the database down on /health, answer the
 * API with 503 problems, keep what nodes send buffered, and once the database is back recover without a
 * restart of its own: the rollout completes, and nothing the fleet sent is lost or stored twice.
 */
describe('PostgreSQL restarted mid-rollout', () => {
  let pg: OwnService;
  let broker: TestBroker;
  let t: TestApp;
  let rollout: OutageRollout | undefined;

  beforeAll(async () => {
    [pg, broker] = await Promise.all([startOwnPostgres(), startTestBroker()]);
    t = await startTestApp({ DATABASE_URL: pg.url, MQTT_URL: broker.url });
  }, 120_000);

  afterAll(async () => {
    await rollout?.stop();
    await t?.close();
    await Promise.all([pg?.stop(), broker?.stop()]);
  });

  it('reports the database down while it is, then recovers by itself, completes the rollout and loses nothing', async () => {
    rollout = await OutageRollout.start(t, broker, 'pg-outage', 4);
    const before = await rollout.midway();

    await pg.pause();
    const down = await waitFor(() => healthOf(t), (h) => h.code === 503, 30_000, '/health reporting 503');
    expect(down.down).toContain('postgres');
    const downAt = Date.now();
    // The API answers, with a problem saying the service is unavailable (not a 500 or a hang).
    const api = await t.http().get(`/v1/rollouts/${rollout.rolloutId}`).set(bearer(t.adminKey));
    expect({ status: api.status, type: api.type }).toEqual({ status: 503, type: 'application/problem+json' });
    // Meanwhile the heartbeats nodes send wait in the ingest buffer (the test fails if none did: no outage seen).
    let backlog = 0;
    while (Date.now() - downAt < OUTAGE_MS) {
      const health = await healthOf(t);
      expect(health.down).toContain('postgres');
      backlog = Math.max(backlog, health.heartbeatBacklog);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(backlog).toBeGreaterThan(0);
    await pg.resume();

    await waitFor(() => healthOf(t), (h) => h.code === 200, 60_000, '/health back to 200');
    const healthyInS = Math.round((Date.now() - downAt) / 1000);
    const state = await waitFor(() => rollout?.state() ?? Promise.resolve('?'), (s) => s !== 'running' && s !== 'scheduled', 120_000, 'rollout finished');
    expect(state).toBe('completed');
    await rollout.stopTraffic();
    const counts = await rollout.expectNothingLost();
    console.log(
      `PostgreSQL down ${OUTAGE_MS / 1000} s after /health saw it (rollout at ${before} nodes committed, up to ${backlog} heartbeats buffered); healthy again ${healthyInS} s after it went down; ` +
        `stored: ${counts.statuses} statuses, ${counts.heartbeats} heartbeats, ${counts.results} result records, none lost or doubled`,
    );
  }, 300_000);
});
