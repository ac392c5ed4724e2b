import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { envelopeFields } from '#protocol';
import { verifyInitialRoot } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { waitFor } from '../helpers/agent-process.js';
import { SimulatedNode } from '../helpers/simulated-node.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { hardware, startTestApp, type TestApp } from '../helpers/test-app.js';

// The job runs every second; partitions older than 2 days go; 5 days are made ahead (the migration makes 3).
const ENV = { RETENTION_INTERVAL_MS: '1000', TELEMETRY_RETENTION_DAYS: '2', TELEMETRY_PARTITIONS_AHEAD: '5' };
const DAY_MS = 86_400_000;
const TABLES = ['node_heartbeats', 'inference_results', 'deployment_status_events'] as const;
const ymd = (d: Date) => d.toISOString().slice(0, 10).replaceAll('-', '');
const dayStart = (offsetDays: number) => new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + offsetDays * DAY_MS);

describe('time-partitioned telemetry (real PostgreSQL)', () => {
  let broker: TestBroker;
  let t: TestApp;
  let root: ReturnType<typeof verifyInitialRoot>;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, ...ENV });
    root = verifyInitialRoot(await new KeyStore(t.config.trust.keysDir).currentRoot(), new Date());
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await broker?.stop();
  });

  const partitions = async (table: string) =>
    ((await t.db.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`,
      [table],
    )) as { name: string }[]).map((r) => r.name);
  const count = async (sql: string, params: unknown[] = []) => Number(((await t.db.query(sql, params)) as { n: string }[])[0]?.n);

  async function seedNode(): Promise<string> {
    const id = randomUUID();
    await t.db.query(`INSERT INTO nodes (id, node_key, name, hardware) VALUES ($1::uuid, $2, $2, $3::jsonb)`, [id, id, JSON.stringify(hardware)]);
    return id;
  }

  it('the scheduled job creates each table\'s partitions ahead of time', async () => {
    const farthest = `_p${ymd(dayStart(5))}_${ymd(dayStart(6))}`;
    for (const table of TABLES) {
      const names = await waitFor(() => partitions(table), (list) => list.includes(`${table}${farthest}`), 20_000, `${table} partitions 5 days ahead`);
      for (let day = 0; day <= 5; day++) expect(names).toContain(`${table}_p${ymd(dayStart(day))}_${ymd(dayStart(day + 1))}`);
      expect(names).toContain(`${table}_default`);
    }
  });

  it('drops a partition older than the retention whole, keeps newer rows, and prunes rows of the default partition that arrived before the retention', async () => {
    const nodeId = await seedNode();
    const old = { from: dayStart(-10), to: dayStart(-9) };
    const oldName = `node_heartbeats_p${ymd(old.from)}_${ymd(old.to)}`;
    const insert = (ts: string, seq: number, receivedAt = 'now()') =>
      `INSERT INTO node_heartbeats (node_id, seq, sent_at, received_at, uptime_s, cpu, mem_mb, free_disk_mb, inferences, errors) VALUES ($1, ${seq}, ${ts}, ${receivedAt}, 1, 0, 1, 1, 0, 0)`;
    await t.db.transaction(async (tx) => {
      // Rows of an old day land in the default partition; making the day's partition moves them into it.
      for (let seq = 1; seq <= 3; seq++) await tx.query(insert(`'${new Date(old.from.getTime() + seq * 60_000).toISOString()}'`, seq), [nodeId]);
      await tx.query(`SELECT telemetry_partitions.create_partition('node_heartbeats', 'sent_at', $1, $2, $3)`, [oldName, old.from, old.to]);
      // Clocks years behind, in the default partition: one arrived 10 days ago (older than the retention), one now.
      await tx.query(insert(`'2001-01-01T00:00:00Z'`, 4, `now() - interval '10 days'`), [nodeId]);
      await tx.query(insert(`'2001-01-01T00:00:00Z'`, 7), [nodeId]);
      await tx.query(insert('now()', 5), [nodeId]);
      await tx.query(insert(`now() + interval '400 days'`, 6), [nodeId]); // a clock far ahead: default partition, kept
    });
    expect(await count(`SELECT count(*) AS n FROM telemetry_partitions."${oldName}"`)).toBe(3);
    await waitFor(() => partitions('node_heartbeats'), (list) => !list.includes(oldName), 20_000, 'the old partition dropped');
    const seqs = await waitFor(
      async () => ((await t.db.query(`SELECT seq::int AS seq FROM node_heartbeats WHERE node_id = $1 ORDER BY seq`, [nodeId])) as { seq: number }[]).map((r) => r.seq),
      (list) => !list.includes(4),
      20_000,
      'the old row of the default partition deleted',
    );
    expect(seqs).toEqual([5, 6, 7]);
    expect(await count(`SELECT count(*) AS n FROM pg_class WHERE relname = $1`, [oldName])).toBe(0);
  });

  it('stores a redelivered heartbeat and result once, and keeps rows from a node whose clock is far off', async () => {
    const nodeId = await seedNode();
    const node = new SimulatedNode({ brokerUrl: broker.url, namespace: t.config.mqtt.fleetNamespace, nodeId, root });
    await node.connect();
    const heartbeat = node.heartbeat(1);
    const skewed = { ...node.heartbeat(2), ts: '2091-06-01T00:00:00.000Z' };
    const result = (seq: number, ts: string) => ({ seq, ts, modelSha256: 'c'.repeat(64), topClass: 1, confidence: 0.9, latencyMs: 0.5 });
    const batch = { ...envelopeFields(), records: [result(1, new Date().toISOString()), result(2, '1999-03-01T00:00:00.000Z')] };
    for (const copy of [1, 2]) {
      void copy;
      await node.publish('heartbeat', heartbeat);
      await node.publish('heartbeat', skewed);
      await node.publish('results', batch);
    }
    const stored = async () => {
      await t.app.get(TelemetryService).flush();
      return [
        await count(`SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1`, [nodeId]),
        await count(`SELECT count(*) AS n FROM inference_results WHERE node_id = $1`, [nodeId]),
      ];
    };
    await waitFor(stored, ([beats, results]) => beats === 2 && results === 2, 20_000, 'heartbeats and results stored');
    // Twice sent, once stored: still so after every redelivery has been handled.
    await node.publish('heartbeat', node.heartbeat(3));
    await waitFor(stored, ([beats]) => beats === 3, 20_000, 'a later heartbeat stored');
    expect(await stored()).toEqual([3, 2]);
    const where = (await t.db.query(
      `SELECT seq::int AS seq, tableoid::regclass::text AS part FROM node_heartbeats WHERE node_id = $1 ORDER BY seq`,
      [nodeId],
    )) as { seq: number; part: string }[];
    expect(where).toEqual([
      { seq: 1, part: `telemetry_partitions.node_heartbeats_p${ymd(dayStart(0))}_${ymd(dayStart(1))}` },
      { seq: 2, part: 'telemetry_partitions.node_heartbeats_default' },
      { seq: 3, part: `telemetry_partitions.node_heartbeats_p${ymd(dayStart(0))}_${ymd(dayStart(1))}` },
    ]);
    await node.disconnect();
  });
});
