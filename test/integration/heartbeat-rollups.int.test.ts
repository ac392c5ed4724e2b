import 'reflect-metadata';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { CONFIDENCE_HISTOGRAM_LAYOUT, envelopeFields, type HeartbeatMessage, LATENCY_BUCKET_COUNT, LATENCY_HISTOGRAM_LAYOUT } from '#protocol';
import { CONTROL_PLANE_APPLICATION_NAME, dataSourceOptions } from '../../apps/control-plane/src/database/data-source.js';
import { runMigrations } from '../../apps/control-plane/src/database/migrate.js';
import { loadConfig } from '../../apps/control-plane/src/config/config.js';
import { type FromNode, TelemetryRepository } from '../../apps/control-plane/src/telemetry/telemetry.repository.js';
import { HeartbeatRollupsRepository } from '../../apps/control-plane/src/telemetry/heartbeat-rollups.repository.js';
import { ModelStatsRepository } from '../../apps/control-plane/src/model-health/model-stats.repository.js';
import { unpackHistogram } from '../../apps/control-plane/src/telemetry/packed-histogram.js';
import { confidenceColumns, latencyHistLiteral } from '../../apps/control-plane/src/telemetry/rollup-sql.js';
import { createTestDatabase } from '../helpers/test-database.js';

const SHA = 'cd'.repeat(32);
/** Everything committed, in one step: what a test can wait for. */
const EXACT = { alignToMinute: false, marginMs: 0, maxStepMinutes: 24 * 60 };
const NODES = 40;

/**
 * Heartbeats reach the rollups by a job (telemetry/heartbeat-rollups.repository.ts), and the readers add
 * the heartbeats received since its watermark. What must hold: every stored heartbeat counts exactly once
 * in what readers see, before, during and after any number of job runs, and a heartbeat whose transaction
 * is still open when the job runs is neither skipped nor counted twice.
 */
describe('heartbeat rollups by the job (real PostgreSQL)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let ds: DataSource;
  let nodeIds: string[];
  let versionId: string;
  let ingest: TelemetryRepository;
  let job: HeartbeatRollupsRepository;
  let stats: ModelStatsRepository;
  let seq = 0;
  /** What was stored, summed: the figures every reader must show. */
  const sent = { inferences: 0, errors: 0, latency: new Array<number>(LATENCY_BUCKET_COUNT).fill(0), confidences: 0 };

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ ...process.env, DATABASE_URL: db.url });
    ds = await new DataSource(dataSourceOptions(config.database)).initialize();
    await runMigrations(ds);
    nodeIds = Array.from({ length: NODES }, () => randomUUID());
    await ds.query(`INSERT INTO nodes (id, node_key, name, hardware) SELECT id, id::text, id::text, '{}' FROM unnest($1::uuid[]) AS id`, [nodeIds]);
    await ds.query(`INSERT INTO artifacts (sha256, size_bytes) VALUES ($1, 1)`, [SHA]);
    const [version] = (await ds.query(
      `WITH m AS (INSERT INTO models (name, task, input_spec, output_spec) VALUES ('digits', 'classification', '{}', '{}') RETURNING id)
       INSERT INTO model_versions (model_id, version, variant, format, engine, artifact_sha256, sequence, manifest, created_by)
       SELECT id, '1.0.0', 'fp32', 'onnx', 'onnxruntime', $1, 1, '{}', 'test' FROM m RETURNING id`,
      [SHA],
    )) as { id: string }[];
    versionId = version?.id as string;
    ingest = new TelemetryRepository(ds, { ingest: { rollups: true } });
    job = new HeartbeatRollupsRepository(ds);
    stats = new ModelStatsRepository(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });
  beforeEach(async () => {
    // Each test starts from a rolled-up state: nothing behind the watermark is left for it.
    await job.rollUp(EXACT);
  });

  const heartbeat = (nodeId: string): FromNode<HeartbeatMessage> => {
    seq++;
    const bucket = seq % 30;
    const message: HeartbeatMessage = {
      ...envelopeFields(),
      seq,
      model: { name: 'digits', version: '1.0.0', variant: 'fp32', sha256: SHA },
      uptimeS: seq,
      cpu: 0.2,
      memMb: 100,
      freeDiskMb: 1000,
      inferences: 10 + (seq % 7),
      errors: seq % 3,
      latencyMs: null,
      latencyHistogram: { layout: LATENCY_HISTOGRAM_LAYOUT, counts: [[bucket, 4], [bucket + 1, 6]] },
      confidenceHistogram: { layout: CONFIDENCE_HISTOGRAM_LAYOUT, counts: [[19, 5]], sum: 4.9 },
    };
    sent.inferences += message.inferences;
    sent.errors += message.errors;
    sent.latency[bucket] = (sent.latency[bucket] ?? 0) + 4;
    sent.latency[bucket + 1] = (sent.latency[bucket + 1] ?? 0) + 6;
    sent.confidences += 5;
    return { nodeId, message };
  };
  const store = (perNode: number) => ingest.insertHeartbeats(nodeIds.flatMap((id) => Array.from({ length: perNode }, () => heartbeat(id))));

  /** The stats route's total over an hour, read from the minute tier (window ≤ 6 h) or the hourly tier (7 d). */
  const seen = async (windowSeconds: number) => {
    const [total] = (await stats.rollups([versionId], windowSeconds, { kind: 'none' })).filter((r) => r.total);
    return {
      inferences: total?.inferences ?? 0,
      errors: total?.errors ?? 0,
      latency: unpackHistogram(total?.latencyHist ?? null, LATENCY_BUCKET_COUNT),
      confidences: total?.confidences ?? 0,
    };
  };
  const expectExact = async () => {
    expect(await seen(3600)).toEqual(sent);
    expect(await seen(7 * 86_400)).toEqual(sent);
  };
  /** The rollup tables alone: what the job has added. */
  const rolledUp = async () =>
    ((await ds.query(
      `SELECT (SELECT COALESCE(sum(inferences), 0)::int FROM model_version_rollups) AS minutes,
              (SELECT COALESCE(sum(inferences), 0)::int FROM model_version_hourly_rollups) AS hours`,
    )) as { minutes: number; hours: number }[])[0];

  it('as the scheduled job runs it, stops at whole minutes in the past, at most maxStepMinutes a run', async () => {
    // Nothing is stored yet, so moving the watermark back cannot count anything twice.
    await ds.query(`UPDATE rollup_watermarks SET until = date_trunc('minute', now()) - interval '30 minutes' WHERE name = 'heartbeats'`);
    await store(1);
    const step = { alignToMinute: true, marginMs: 5000, maxStepMinutes: 10 };
    const first = await job.rollUp(step);
    const [{ tenMinutes }] = (await ds.query(`SELECT $2::timestamptz - $1::timestamptz = interval '10 minutes' AS "tenMinutes"`, [first?.from, first?.until])) as [
      { tenMinutes: boolean },
    ];
    expect(tenMinutes).toBe(true);
    let runs = 1;
    while ((await job.rollUp(step)) && runs < 10) runs++;
    expect(runs).toBeGreaterThanOrEqual(3);
    const [{ whole, past }] = (await ds.query(
      `SELECT until = date_trunc('minute', until) AS whole, until <= now() AS past FROM rollup_watermarks WHERE name = 'heartbeats'`,
    )) as [{ whole: boolean; past: boolean }];
    expect({ whole, past }).toEqual({ whole: true, past: true });
    await expectExact();
  });

  it('counts every heartbeat once: read from its row at first, from the rollups after the job, whatever the number of runs', async () => {
    const before = await rolledUp();
    await store(3);
    expect(await rolledUp()).toEqual(before);
    await expectExact();

    const run = await job.rollUp(EXACT);
    expect(run?.heartbeats).toBe(NODES * 3);
    expect(run?.groups).toBe(NODES); // one minute row per node (the test runs within a minute or two; a boundary may split a node)
    expect(await rolledUp()).toEqual({ minutes: sent.inferences, hours: sent.inferences });
    await expectExact();

    // Nothing new: a second run adds nothing.
    const again = await job.rollUp(EXACT);
    expect(again?.heartbeats ?? 0).toBe(0);
    await expectExact();

    await store(2);
    await expectExact();
    await job.rollUp(EXACT);
    expect(await rolledUp()).toEqual({ minutes: sent.inferences, hours: sent.inferences });
    await expectExact();
  });

  it('never moves the watermark past a transaction open on a control-plane connection, written to or not yet', async () => {
    // An ingest connection, as the pool opens them: a slow COPY that has not written its first row yet
    // has no transaction id, and a job must still wait for it.
    const writer = new pg.Client({ connectionString: db.url, application_name: CONTROL_PLANE_APPLICATION_NAME });
    await writer.connect();
    try {
      await store(1);
      await writer.query('BEGIN');
      const [{ started }] = (await writer.query(`SELECT now()::text AS started`)).rows as [{ started: string }];
      const stoppedBefore = async () => {
        const run = await job.rollUp(EXACT);
        const [{ before }] = (await ds.query(`SELECT until <= $1::timestamptz AS before FROM rollup_watermarks WHERE name = 'heartbeats'`, [started])) as [
          { before: boolean },
        ];
        return { ran: run !== null, before };
      };
      expect(await stoppedBefore()).toEqual({ ran: true, before: true }); // the store(1) above, and no further
      const late = heartbeat(nodeIds[0] as string);
      // As a slow ingest statement would: its received_at is its transaction's start, now before the job's runs.
      await writer.query(
        `INSERT INTO node_heartbeats (node_id, seq, sent_at, model_sha256, model_name, model_version, model_variant, uptime_s, cpu, mem_mb, free_disk_mb,
                                      inferences, errors, latency_hist, confidences, confidence_sum, confidence_hist)
         SELECT $1, $2, $3, $4, 'digits', '1.0.0', 'fp32', 1, 0.1, 1, 1, $5, $6, $7, 5, 4.9, $8`,
        [late.nodeId, late.message.seq, late.message.ts, SHA, late.message.inferences, late.message.errors, latencyHistLiteral(late.message), confidenceColumns(late.message)[2]],
      );
      expect((await stoppedBefore()).before).toBe(true);

      await writer.query('COMMIT');
      await expectExact(); // the late row, committed, is read from the tail
      const after = await job.rollUp(EXACT);
      expect(after?.heartbeats).toBeGreaterThanOrEqual(1);
      expect(await rolledUp()).toEqual({ minutes: sent.inferences, hours: sent.inferences });
      await expectExact();
    } finally {
      await writer.end();
    }
  });

  it('is not held back by another application’s read-only transaction (a report, a dump), but is by one that has written', async () => {
    const other = new pg.Client({ connectionString: db.url, application_name: 'nightly-report' });
    await other.connect();
    try {
      await other.query('BEGIN');
      const [{ started }] = (await other.query(`SELECT now()::text AS started`)).rows as [{ started: string }];
      await store(1);
      const untilAfter = async () => {
        await job.rollUp(EXACT);
        const [{ after }] = (await ds.query(`SELECT until > $1::timestamptz AS after FROM rollup_watermarks WHERE name = 'heartbeats'`, [started])) as [{ after: boolean }];
        return after;
      };
      expect(await untilAfter()).toBe(true);
      await other.query('ROLLBACK');
      await other.query('BEGIN');
      const [{ writing }] = (await other.query(`SELECT now()::text AS writing`)).rows as [{ writing: string }];
      await other.query(`SELECT txid_current()`); // it has written (a transaction id): it could commit a heartbeat
      await store(1);
      await job.rollUp(EXACT);
      const [{ held }] = (await ds.query(`SELECT until <= $1::timestamptz AS held FROM rollup_watermarks WHERE name = 'heartbeats'`, [writing])) as [{ held: boolean }];
      expect(held).toBe(true);
      await other.query('ROLLBACK');
      await expectExact();
    } finally {
      await other.end();
    }
  });

  it('stays exact with two jobs (two replicas) running beside ingest', async () => {
    for (let round = 0; round < 4; round++) {
      await Promise.all([store(1), job.rollUp(EXACT), job.rollUp(EXACT), store(1)]);
      await expectExact();
    }
    await job.rollUp(EXACT);
    expect(await rolledUp()).toEqual({ minutes: sent.inferences, hours: sent.inferences });
    await expectExact();
  });
});
