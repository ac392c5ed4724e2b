/**
 * Heartbeat ingest vs two baselines on the same table, in one run:
 *   - raw COPY of the same rows (the fastest way into PostgreSQL; goal: ours >= 0.5 of it). The rows are
 *     exactly what ours stored (exported with COPY TO after a warm-up run of ours), in one COPY;
 *   - one INSERT per row (the naive way; goal: ours >= 10x it).
 * The heartbeats are what agents send: latency and confidence histograms, naming a registered version
 * (so the rollups do their real work: the job's run on each round's rows is timed and shown apart, as it
 * runs off the ingest path). "Ours" is the gateway's path from the MQTT payload bytes:
 * parseMessage, then writers as TelemetryService builds them (INGEST_WRITERS, partitioned by node) writing
 * TelemetryRepository.insertHeartbeats batches. Messages arrive a slice per event-loop turn, so parsing
 * overlaps the writes in flight as it does behind a socket.
 * Raw COPY and ours alternate for ROUNDS rounds (medians, and each round's ratio). Besides wall time, each
 * phase's CPU time is read from /proc for this process and every PostgreSQL process: the CPU per row is
 * what the other load on a shared machine moves least.
 * Diagnostics, once: the same calls serially (parse a batch, write it, next) and the write path alone.
 *   npm run bench:build && node dist/bench/heartbeat-ingest.js [rows=50000] [batch=1000] [rounds=3] [writers=2]
 */
import 'reflect-metadata';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { PartitionedBatchWriter } from '../libs/common/src/index.js';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import {
  CONFIDENCE_HISTOGRAM_LAYOUT,
  encodeMessage,
  envelopeFields,
  type HeartbeatMessage,
  LATENCY_HISTOGRAM_LAYOUT,
  parseMessage,
} from '../libs/protocol/src/index.js';
import { loadConfig } from '../apps/control-plane/src/config/config.js';
import { createDatabase, dropDatabase } from '../apps/control-plane/src/database/database-admin.js';
import { dataSourceOptions } from '../apps/control-plane/src/database/data-source.js';
import { runMigrations } from '../apps/control-plane/src/database/migrate.js';
import { TelemetryRepository } from '../apps/control-plane/src/telemetry/telemetry.repository.js';
import { HeartbeatRollupsRepository } from '../apps/control-plane/src/telemetry/heartbeat-rollups.repository.js';

const ROWS = Number(process.argv[2] ?? 50_000);
/**
 * The fleet of P6 (10,000 nodes, a heartbeat each every 10 s): a batch holds at most one heartbeat per node,
 * as in production. With fewer nodes than a batch, one node's heartbeats would share batches and their
 * rollups merge, which production does not see.
 */
const NODES = 10_000;
const SHA = 'ab'.repeat(32);
const BATCH = Number(process.argv[3] ?? 1000);
const ROUNDS = Number(process.argv[4] ?? 3);
const WRITERS = Number(process.argv[5] ?? 2); // INGEST_WRITERS, its default
const SINGLE_ROWS = Math.min(5000, ROWS);
/** Messages handed to the writer per event-loop turn (an MQTT read delivers a few dozen at a time). */
const ARRIVAL_SLICE = 50;

const config = loadConfig(process.env);
const url = new URL(config.database.url);
url.pathname = `/ef_bench_${Date.now()}`;
await createDatabase(url.toString());
const ds = await new DataSource(dataSourceOptions({ ...config.database, url: url.toString() })).initialize();
const client = new pg.Client({ connectionString: url.toString() });
await client.connect();

try {
  await runMigrations(ds);
  const nodeIds = Array.from({ length: NODES }, () => randomUUID());
  await ds.query(`INSERT INTO nodes (id, node_key, name, hardware) SELECT id, id::text, id::text, '{}' FROM unnest($1::uuid[]) AS id`, [nodeIds]);
  // The version the heartbeats name: the rollups add to its rows, as they do for a real fleet.
  await ds.query(`INSERT INTO artifacts (sha256, size_bytes) VALUES ($1, 1)`, [SHA]);
  await ds.query(
    `WITH m AS (INSERT INTO models (name, task, input_spec, output_spec) VALUES ('digits', 'classification', '{}', '{}') RETURNING id)
     INSERT INTO model_versions (model_id, version, variant, format, engine, artifact_sha256, sequence, manifest, created_by)
     SELECT id, '1.0.0', 'fp32', 'onnx', 'onnxruntime', $1, 1, '{}', 'bench' FROM m`,
    [SHA],
  );
  const heartbeats = Array.from({ length: ROWS }, (_, i): { nodeId: string; message: HeartbeatMessage } => ({
    nodeId: nodeIds[i % NODES] as string,
    message: {
      ...envelopeFields(),
      seq: Math.floor(i / NODES) + 1,
      model: { name: 'digits', version: '1.0.0', variant: 'fp32', sha256: SHA },
      uptimeS: i,
      cpu: 0.25,
      memMb: 512,
      freeDiskMb: 10_000,
      inferences: 100,
      errors: 1,
      latencyMs: { p50: 1.5, p99: 4.2 },
      latencyHistogram: { layout: LATENCY_HISTOGRAM_LAYOUT, counts: [[8, 40], [9, 50], [12, 9], [15, 1]] },
      confidenceHistogram: { layout: CONFIDENCE_HISTOGRAM_LAYOUT, counts: [[17, 5], [18, 15], [19, 80]], sum: 94.1 },
    },
  }));
  const payloads = heartbeats.map((h) => ({ nodeId: h.nodeId, payload: encodeMessage('heartbeat', h.message) }));
  // The watermark back to now: what a phase stores is then exactly what the rollup job finds.
  const reset = async () => {
    await ds.query('TRUNCATE node_heartbeats, model_version_rollups, model_version_hourly_rollups');
    await ds.query(`UPDATE rollup_watermarks SET until = now()`);
  };
  const count = async () => Number(((await ds.query('SELECT count(*) AS n FROM node_heartbeats')) as { n: string }[])[0]?.n);
  /**
   * Every PostgreSQL process: the backends, and the WAL writer, checkpointer and autovacuum that the
   * writes cause (rollup updates write far more WAL than the COPY). Other databases' work on this server
   * counts too: run it on a quiet server.
   */
  const backendPids = async () =>
    (await readdir('/proc')).filter((d) => /^\d+$/.test(d) && readComm(Number(d)) === 'postgres').map(Number);
  const readComm = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const ticks = (pid: number) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0; // a backend that ended meanwhile
    }
  };
  /** This process's CPU seconds, and each database backend's (by pid). */
  const cpuNow = async () => {
    const own = process.cpuUsage();
    return { node: (own.user + own.system) / 1e6, db: new Map((await backendPids()).map((pid) => [pid, ticks(pid)])) };
  };
  interface Phase {
    readonly wallS: number;
    readonly nodeCpuS: number;
    readonly dbCpuS: number;
  }
  const time = async (fn: () => Promise<void>, fresh = true): Promise<Phase> => {
    if (fresh) await reset();
    const before = await cpuNow();
    const start = process.hrtime.bigint();
    await fn();
    const wallS = Number(process.hrtime.bigint() - start) / 1e9;
    const after = await cpuNow();
    // Per process: one started meanwhile counts from 0; one that ended meanwhile is missed (pools keep
    // their connections through a phase, so this is rare).
    let dbTicks = 0;
    for (const [pid, t] of after.db) dbTicks += t - (before.db.get(pid) ?? 0);
    return { wallS, nodeCpuS: after.node - before.node, dbCpuS: dbTicks / 100 };
  };

  let csv = '';
  let storedColumns = '';
  const rawCopy = async () => {
    const stream = client.query(copyStreams.from(`COPY node_heartbeats (${storedColumns}) FROM STDIN WITH (FORMAT csv)`));
    await pipeline(Readable.from([csv]), stream);
  };

  const repository = new TelemetryRepository(ds, { ingest: { rollups: true } });
  const rollups = new HeartbeatRollupsRepository(ds);
  const parse = ({ nodeId, payload }: (typeof payloads)[number]) => {
    const parsed = parseMessage('heartbeat', payload);
    if (!parsed.ok) throw parsed.error;
    return { nodeId, message: parsed.value };
  };
  // The gateway's path: parse on arrival, push; the writer flushes full batches one at a time.
  const gateway = async () => {
    let failure: unknown;
    const writer = new PartitionedBatchWriter<ReturnType<typeof parse>>(WRITERS, (h) => h.nodeId, {
      maxBatch: BATCH,
      flushMs: 50,
      write: async (batch) => void (await repository.insertHeartbeats(batch)),
      onError: (error) => (failure ??= error),
    });
    for (let i = 0; i < payloads.length; i += ARRIVAL_SLICE) {
      writer.push(...payloads.slice(i, i + ARRIVAL_SLICE).map(parse));
      await nextTurn();
      // A socket stops being read when its handler falls behind; so does this feed.
      while (writer.pending > 4 * BATCH && failure === undefined) await writer.flush();
    }
    await writer.close();
    if (failure !== undefined) throw failure;
  };
  const parseBatch = (i: number) => payloads.slice(i, i + BATCH).map(parse);

  // Warm-up run of ours; its rows, as stored, are what raw COPY loads (every column but the arrival time).
  await time(gateway);
  storedColumns = ((await ds.query(
    `SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) AS c FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = 'node_heartbeats' AND column_name <> 'received_at'`,
  )) as { c: string }[])[0]?.c as string;
  const exported: Buffer[] = [];
  for await (const chunk of client.query(copyStreams.to(`COPY (SELECT ${storedColumns} FROM node_heartbeats) TO STDOUT WITH (FORMAT csv)`))) exported.push(chunk as Buffer);
  csv = Buffer.concat(exported).toString();

  const copyS: Phase[] = [];
  const oursS: Phase[] = [];
  const jobS: Phase[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    copyS.push(await time(rawCopy));
    if ((await count()) !== ROWS) throw new Error('COPY stored the wrong number of rows');
    oursS.push(await time(gateway));
    if ((await count()) !== ROWS) throw new Error('the gateway path stored the wrong number of rows');
    // The rollup job, off the ingest path, on what this round stored: its cost per heartbeat (in production
    // it runs once a minute on a minute of heartbeats, here once on the round's).
    jobS.push(
      await time(async () => {
        const run = await rollups.rollUp({ alignToMinute: false, marginMs: 0, maxStepMinutes: 24 * 60 });
        if (run?.heartbeats !== ROWS) throw new Error(`the rollup job rolled up ${run?.heartbeats} heartbeats, not ${ROWS}`);
      }, false),
    );
  }

  // Diagnostics: the same calls without overlap, and the write path on already-parsed messages.
  const serialS = await time(async () => {
    for (let i = 0; i < payloads.length; i += BATCH) await repository.insertHeartbeats(parseBatch(i));
  });
  const parsedBatches = Array.from({ length: Math.ceil(ROWS / BATCH) }, (_, b) => parseBatch(b * BATCH));
  const writeOnlyS = await time(async () => {
    for (const batch of parsedBatches) await repository.insertHeartbeats(batch);
  });

  const singleS = await time(async () => {
    for (const { nodeId, message: m } of heartbeats.slice(0, SINGLE_ROWS)) {
      await client.query(
        `INSERT INTO node_heartbeats (node_id, seq, sent_at, model_sha256, uptime_s, cpu, mem_mb, free_disk_mb, inferences, errors, latency_p50_ms, latency_p99_ms)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT DO NOTHING`,
        [nodeId, m.seq, m.ts, m.model?.sha256, m.uptimeS, m.cpu, m.memMb, m.freeDiskMb, m.inferences, m.errors, m.latencyMs?.p50, m.latencyMs?.p99],
      );
    }
  });

  const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const rate = (rows: number, s: number) => rows / s;
  const cpuUs = (rows: number, p: Phase) => ((p.nodeCpuS + p.dbCpuS) / rows) * 1e6;
  const copyWall = median(copyS.map((p) => p.wallS));
  const oursWall = median(oursS.map((p) => p.wallS));
  const line = (label: string, rows: number, p: Phase) =>
    console.log(
      `${label.padEnd(36)}${rate(rows, p.wallS).toFixed(0).padStart(8)} rows/s   CPU ${cpuUs(rows, p).toFixed(1).padStart(5)} µs/row (this process ${((p.nodeCpuS / rows) * 1e6).toFixed(1)}, PostgreSQL ${((p.dbCpuS / rows) * 1e6).toFixed(1)})`,
    );
  const medianPhase = (ps: readonly Phase[]) => ps.find((p) => p.wallS === median(ps.map((q) => q.wallS))) as Phase;
  console.log(`heartbeats: ${ROWS} rows from ${NODES} nodes; batches of ${BATCH}; ${WRITERS} writer(s), partitioned by node; ${ROUNDS} alternating rounds (the median round shown)`);
  line('raw COPY of the same rows', ROWS, medianPhase(copyS));
  line('edgefleet gateway path', ROWS, medianPhase(oursS));
  line('  then the rollup job, off that path', ROWS, medianPhase(jobS));
  line('  serially: parse a batch, write it', ROWS, serialS);
  line('  the write path alone', ROWS, writeOnlyS);
  line(`single-row INSERT (${SINGLE_ROWS})`, SINGLE_ROWS, singleS);
  console.log(`ratio ours/COPY throughput per round ${copyS.map((c, i) => (c.wallS / (oursS[i] as Phase).wallS).toFixed(2)).join(', ')}`);
  console.log(`ratio ours/COPY throughput (medians) ${(copyWall / oursWall).toFixed(2)}  (goal >= 0.5)`);
  console.log(`ratio COPY/ours CPU per row, per round ${copyS.map((c, i) => (cpuUs(ROWS, c) / cpuUs(ROWS, oursS[i] as Phase)).toFixed(2)).join(', ')}`);
  console.log(`ratio serial/COPY throughput     ${(copyWall / serialS.wallS).toFixed(2)}`);
  console.log(`ratio write path/COPY throughput ${(copyWall / writeOnlyS.wallS).toFixed(2)}`);
  console.log(`ratio ours/single INSERT         ${(rate(ROWS, oursWall) / rate(SINGLE_ROWS, singleS.wallS)).toFixed(1)}  (goal >= 10)`);
} finally {
  await client.end();
  await ds.destroy();
  await dropDatabase(url.toString());
}
