/**
 * Heartbeat ingest vs two baselines on the same table, in one run:
 *   - raw COPY of the same rows (the fastest way into PostgreSQL; goal: ours >= 0.5 of it)
 *   - one INSERT per row (the naive way; goal: ours >= 10x it)
 * "Ours" starts from the MQTT payload bytes: parseMessage (zod) + TelemetryRepository.insertHeartbeats
 * in batches (INGEST_BATCH_MAX, default 1000), the same calls the gateway makes.
 *   npm run bench:build && node dist/bench/heartbeat-ingest.js [rows=50000] [batch=1000]
 */
import 'reflect-metadata';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import { encodeMessage, envelopeFields, type HeartbeatMessage, parseMessage } from '../libs/protocol/src/index.js';
import { loadConfig } from '../apps/control-plane/src/config/config.js';
import { createDatabase, dropDatabase } from '../apps/control-plane/src/database/database-admin.js';
import { dataSourceOptions } from '../apps/control-plane/src/database/data-source.js';
import { runMigrations } from '../apps/control-plane/src/database/migrate.js';
import { TelemetryRepository } from '../apps/control-plane/src/telemetry/telemetry.repository.js';

const ROWS = Number(process.argv[2] ?? 50_000);
const NODES = 1000;
const BATCH = Number(process.argv[3] ?? 1000);
const SINGLE_ROWS = Math.min(5000, ROWS);

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
  const heartbeats = Array.from({ length: ROWS }, (_, i): { nodeId: string; message: HeartbeatMessage } => ({
    nodeId: nodeIds[i % NODES] as string,
    message: {
      ...envelopeFields(),
      seq: Math.floor(i / NODES) + 1,
      model: { name: 'digits', version: '1.0.0', variant: 'fp32', sha256: 'ab'.repeat(32) },
      uptimeS: i,
      cpu: 0.25,
      memMb: 512,
      freeDiskMb: 10_000,
      inferences: 100,
      errors: 1,
      latencyMs: { p50: 1.5, p99: 4.2 },
    },
  }));
  const payloads = heartbeats.map((h) => ({ nodeId: h.nodeId, payload: encodeMessage('heartbeat', h.message) }));
  const csv = heartbeats
    .map(({ nodeId, message: m }) =>
      [nodeId, m.seq, m.ts, m.model?.sha256, m.uptimeS, m.cpu, m.memMb, m.freeDiskMb, m.inferences, m.errors, m.latencyMs?.p50, m.latencyMs?.p99].join(','),
    )
    .join('\n');
  const reset = () => ds.query('TRUNCATE node_heartbeats');
  const count = async () => Number(((await ds.query('SELECT count(*) AS n FROM node_heartbeats')) as { n: string }[])[0]?.n);
  const time = async (fn: () => Promise<void>) => {
    await reset();
    const start = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - start) / 1e9;
  };

  const copyS = await time(async () => {
    const stream = client.query(
      copyStreams.from(
        `COPY node_heartbeats (node_id, seq, sent_at, model_sha256, uptime_s, cpu, mem_mb, free_disk_mb, inferences, errors, latency_p50_ms, latency_p99_ms) FROM STDIN WITH (FORMAT csv)`,
      ),
    );
    await pipeline(Readable.from([csv]), stream);
  });
  if ((await count()) !== ROWS) throw new Error('COPY stored the wrong number of rows');

  const repository = new TelemetryRepository(ds, { ingest: { rollups: true } });
  const parseBatch = (i: number) =>
    payloads.slice(i, i + BATCH).map(({ nodeId, payload }) => {
      const parsed = parseMessage('heartbeat', payload);
      if (!parsed.ok) throw parsed.error;
      return { nodeId, message: parsed.value };
    });
  const oursS = await time(async () => {
    for (let i = 0; i < payloads.length; i += BATCH) await repository.insertHeartbeats(parseBatch(i));
  });
  if ((await count()) !== ROWS) throw new Error('batched ingest stored the wrong number of rows');

  // The same write path on already-parsed messages: shows what parsing and validating costs.
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

  const rate = (rows: number, s: number) => rows / s;
  const copyRate = rate(ROWS, copyS);
  const oursRate = rate(ROWS, oursS);
  const singleRate = rate(SINGLE_ROWS, singleS);
  console.log(`heartbeats: ${ROWS} rows from ${NODES} nodes; batches of ${BATCH}`);
  console.log(`raw COPY                    ${copyRate.toFixed(0).padStart(8)} rows/s`);
  console.log(`edgefleet parse + batch     ${oursRate.toFixed(0).padStart(8)} rows/s`);
  console.log(`  of which the write path   ${rate(ROWS, writeOnlyS).toFixed(0).padStart(8)} rows/s (messages already parsed)`);
  console.log(`single-row INSERT (${SINGLE_ROWS})   ${singleRate.toFixed(0).padStart(8)} rows/s`);
  console.log(`ratio ours/COPY             ${(oursRate / copyRate).toFixed(2)}  (goal >= 0.5)`);
  console.log(`ratio write path/COPY       ${(rate(ROWS, writeOnlyS) / copyRate).toFixed(2)}`);
  console.log(`ratio ours/single INSERT    ${(oursRate / singleRate).toFixed(1)}  (goal >= 10)`);
} finally {
  await client.end();
  await ds.destroy();
  await dropDatabase(url.toString());
}
