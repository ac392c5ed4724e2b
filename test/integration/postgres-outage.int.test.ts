import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../helpers/agent-process.js';
import { enrolNodes } from '../helpers/fleet.js';
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
    // A node outside the rollout that goes offline during the outage: its will is sent once.
    const [leaving] = await enrolNodes(t, 1, { outage: 'leaving' });
    if (!leaving) throw new Error('no node enrolled');
    const statusOf = async () => ((await t.db.query(`SELECT status::text AS status FROM nodes WHERE id = $1`, [leaving])) as { status: string }[])[0]?.status;
    await rollout.fleet.presence(leaving, true);
    await waitFor(statusOf, (s) => s === 'online', 30_000, 'leaving node online');
    const before = await rollout.midway();

    await pg.pause();
    const down = await waitFor(() => healthOf(t), (h) => h.code === 503, 30_000, '/health reporting 503');
    expect(down.down).toContain('postgres');
    const downAt = Date.now();
    // The API answers, with a problem saying the service is unavailable (not a 500 or a hang).
    const api = await t.http().get(`/v1/rollouts/${rollout.rolloutId}`).set(bearer(t.adminKey));
    expect({ status: api.status, type: api.type }).toEqual({ status: 503, type: 'application/problem+json' });
    // /metrics answers too (its database reads give up after 1 s each and keep their last values): it
    // used to hang with the database, and Prometheus saw the replica as down.
    const metrics = await t.http().get('/metrics').timeout(15_000);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('edgefleet_rollout_nodes');
    // Meanwhile the heartbeats nodes send wait in the ingest buffer (the test fails if none did: no outage seen).
    await rollout.fleet.presence(leaving, false);
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
    // The will sent during the outage is stored once the database is back (it was lost before).
    await waitFor(statusOf, (s) => s === 'offline', 30_000, 'leaving node offline');
    const events = (await t.db.query(`SELECT type FROM events WHERE node_id = $1 ORDER BY id`, [leaving])) as { type: string }[];
    expect(events.map((e) => e.type).filter((type) => type.startsWith('node.o'))).toEqual(['node.online', 'node.offline']);
    await rollout.stopTraffic();
    const counts = await rollout.expectNothingLost();
    console.log(
      `PostgreSQL down ${OUTAGE_MS / 1000} s after /health saw it (rollout at ${before} nodes committed, up to ${backlog} heartbeats buffered); healthy again ${healthyInS} s after it went down; ` +
        `stored: ${counts.statuses} statuses, ${counts.heartbeats} heartbeats, ${counts.results} result records, none lost or doubled`,
    );
  }, 300_000);
});
