import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RetentionTarget } from '../../apps/control-plane/src/retention/retention-plan.js';
import { RetentionService } from '../../apps/control-plane/src/retention/retention.service.js';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, enrolNodes, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

// Small batches and few per run, so the old rows take several runs of the scheduled job.
const ENV = {
  RETENTION_INTERVAL_MS: '1000',
  RETENTION_BATCH_ROWS: '7',
  RETENTION_MAX_BATCHES: '2',
  RETENTION_EVENTS_DAYS: '1',
  RETENTION_MINUTE_ROLLUPS_DAYS: '2',
  RETENTION_HOURLY_ROLLUPS_DAYS: '31',
  ROLLUP_INTERVAL_MS: '1000',
};
const OLD = 30;
const RECENT = 3;

describe('retention of events and model-health rollups', () => {
  let broker: TestBroker;
  let t: TestApp;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, ...ENV });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await broker?.stop();
  });

  const count = async (sql: string, params: unknown[] = []) => ((await t.db.query(sql, params)) as { n: number }[])[0]?.n ?? -1;

  /** `n` rollup rows of one version and node, one per period, the newest `newestAgo` before now. */
  async function seedRollups(table: string, column: string, unit: 'minute' | 'hour', n: number, newestAgo: string, versionId: string, nodeId: string): Promise<void> {
    await t.db.query(
      `INSERT INTO ${table} (model_version_id, ${column}, node_id, inferences, errors, latency_hist, results, confidence_sum, confidence_hist)
       SELECT $1, date_trunc('${unit}', now() - $3::interval) - g * interval '1 ${unit}', $2, 1, 0, 0, 0, 0, 0 FROM generate_series(0, $4 - 1) g`,
      [versionId, nodeId, newestAgo, n],
    );
  }

  it('the scheduled job deletes old events and rollups in bounded batches, keeps recent ones and events not yet fanned out', async () => {
    // What each run of the scheduled job deleted: the job calls this instance's prune().
    const runs: Record<RetentionTarget, number>[] = [];
    const service = t.app.get(RetentionService);
    const prune = service.prune.bind(service);
    service.prune = async (now?: Date) => {
      const deleted = await prune(now);
      runs.push(deleted);
      return deleted;
    };
    await createModel(t, 'kept', 16, 4);
    const { id: versionId } = await uploadVersion(t, 'kept', { version: '1.0.0' }, denseSoftmaxModel(5, 16, 4).bytes);
    const [nodeId] = await enrolNodes(t, 1);
    // The test writes rows straight into the tables: what ingest and the recorder would have written days ago.
    // Events are inserted as new (the feed fans them out to webhooks: the cursor passes them), then aged.
    await t.db.query(`INSERT INTO events (type, payload) SELECT 'node.online', '{}' FROM generate_series(1, $1)`, [OLD + RECENT]);
    const [last] = (await t.db.query(`INSERT INTO events (type, payload) VALUES ('node.offline', '{}') RETURNING id::text AS id`)) as { id: string }[];
    const cursor = async () => ((await t.db.query(`SELECT last_event_id::text AS id FROM webhook_dispatch_cursor`)) as { id: string }[])[0]?.id ?? '0';
    await waitFor(cursor, (id) => BigInt(id) >= BigInt(last?.id ?? 'x'), 10_000, 'the fan-out past the events');
    await t.db.transaction(async (tx) => {
      await tx.query(`UPDATE events SET created_at = now() - interval '3 days' WHERE id IN (SELECT id FROM events WHERE type = 'node.online' ORDER BY id LIMIT $1)`, [OLD]);
      // As if no replica had fanned out the last event (all were down): it must stay, however old.
      await tx.query(`UPDATE events SET created_at = now() - interval '3 days' WHERE id = $1`, [last?.id]);
      await tx.query(`UPDATE webhook_dispatch_cursor SET last_event_id = $1::bigint - 1`, [last?.id]);
    });
    await seedRollups('model_version_rollups', 'minute', 'minute', OLD, '3 days', versionId, nodeId as string);
    await seedRollups('model_version_rollups', 'minute', 'minute', RECENT, '1 hour', versionId, nodeId as string);
    await seedRollups('model_version_hourly_rollups', 'hour', 'hour', OLD, '40 days', versionId, nodeId as string);
    await seedRollups('model_version_hourly_rollups', 'hour', 'hour', RECENT, '20 days', versionId, nodeId as string);

    const old = {
      events: () => count(`SELECT count(*)::int AS n FROM events WHERE created_at < now() - interval '1 day' AND type = 'node.online'`),
      minute: () => count(`SELECT count(*)::int AS n FROM model_version_rollups WHERE minute < now() - interval '2 days'`),
      hour: () => count(`SELECT count(*)::int AS n FROM model_version_hourly_rollups WHERE hour < now() - interval '31 days'`),
    };
    await waitFor(async () => [await old.events(), await old.minute(), await old.hour()], (left) => left.every((n) => n === 0), 20_000, 'the old rows deleted');
    // At most 2 batches of 7 a run: the 30 old rows of each table went over three runs (14, 14, 2), not at once.
    const deleting = runs.filter((r) => Object.values(r).some((n) => n > 0));
    for (const target of ['events', 'minute-rollups', 'hourly-rollups'] as const) {
      expect(deleting.map((r) => r[target]).filter((n) => n > 14)).toEqual([]);
      expect(deleting.reduce((sum, r) => sum + r[target], 0)).toBe(OLD);
    }
    expect(deleting.length).toBeGreaterThanOrEqual(3);
    expect(await count(`SELECT count(*)::int AS n FROM events WHERE type = 'node.online'`)).toBe(RECENT);
    expect(await count(`SELECT count(*)::int AS n FROM events WHERE type = 'node.offline'`)).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM model_version_rollups`)).toBe(RECENT);
    expect(await count(`SELECT count(*)::int AS n FROM model_version_hourly_rollups`)).toBe(RECENT);
  }, 60_000);

  it('refuses retention settings shorter than what the stats route reads', async () => {
    const { loadConfig } = await import('../../apps/control-plane/src/config/config.js');
    const base = { DATABASE_URL: 'postgres://x@127.0.0.1/x', ADMIN_API_KEY: 'k'.repeat(32) };
    expect(() => loadConfig({ ...base, RETENTION_MINUTE_ROLLUPS_DAYS: '1' })).toThrow(/RETENTION_MINUTE_ROLLUPS_DAYS/);
    expect(() => loadConfig({ ...base, RETENTION_HOURLY_ROLLUPS_DAYS: '30' })).toThrow(/RETENTION_HOURLY_ROLLUPS_DAYS/);
    expect(() => loadConfig({ ...base, RETENTION_BATCH_ROWS: '0' })).toThrow(/RETENTION_BATCH_ROWS/);
  });

  it('the same queue runs the heartbeat rollup job: a heartbeat of the last minute reaches both rollup tiers', async () => {
    await createModel(t, 'rolled', 16, 4);
    const version = await uploadVersion(t, 'rolled', { version: '1.0.0' }, denseSoftmaxModel(6, 16, 4).bytes);
    const [nodeId] = await enrolNodes(t, 1);
    // A heartbeat received a minute ago, behind a watermark moved back before it: what the job finds when
    // ingest ran while no replica ran the job (no other heartbeat is stored here, none counts twice).
    await t.db.transaction(async (tx) => {
      await tx.query(`UPDATE rollup_watermarks SET until = date_trunc('minute', now()) - interval '2 minutes' WHERE name = 'heartbeats'`);
      await tx.query(
        `INSERT INTO node_heartbeats (node_id, seq, sent_at, received_at, model_sha256, model_name, model_version, model_variant, uptime_s, cpu, mem_mb, free_disk_mb, inferences, errors)
         SELECT $1, 1, now(), date_trunc('minute', now()) - interval '1 minute', mv.artifact_sha256, 'rolled', mv.version, mv.variant, 1, 0.1, 1, 1, 42, 2
           FROM model_versions mv WHERE mv.id = $2`,
        [nodeId, version.id],
      );
    });
    const rolled = () =>
      count(
        `SELECT (SELECT COALESCE(sum(inferences), 0) FROM model_version_rollups WHERE model_version_id = $1)
              + (SELECT COALESCE(sum(inferences), 0) FROM model_version_hourly_rollups WHERE model_version_id = $1) AS n`,
        [version.id],
      );
    await waitFor(rolled, (n) => Number(n) === 84, 20_000, 'the heartbeat in both tiers, once');
    const [{ whole }] = (await t.db.query(`SELECT until = date_trunc('minute', until) AS whole FROM rollup_watermarks WHERE name = 'heartbeats'`)) as [{ whole: boolean }];
    expect(whole).toBe(true);
    // How far the watermark trails, for alerting: a whole minute behind now at most, plus the 5 s margin.
    const text = (await t.http().get('/metrics').expect(200)).text;
    const lag = Number(/^edgefleet_heartbeat_rollup_lag_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1]);
    expect(lag).toBeGreaterThan(0);
    expect(lag).toBeLessThan(120);
  });
});
