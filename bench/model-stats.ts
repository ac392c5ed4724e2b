/**
 * Per-version model health, in one run (docs/model-health.md):
 *   1. Ingest throughput with the rollups on vs off: results (the rollup is in the insert's own statement)
 *      and heartbeats with latency and confidence histograms (as current agents send them; their rollups are
 *      the rollup job's since issue 14, off the ingest path, so for them on/off differ by noise only), through
 *      TelemetryRepository as the gateway calls it, rounds alternated so a busy neighbour hurts both sides
 *      alike. Goal: on/off >= 0.8. Then results again with PENDING labels held (POST /v1/feedback for kept
 *      results; none matching), against none: what the ingest-time join of held labels costs.
 *   2. GET /v1/models/:name/versions/:version/stats latency over ROWS stored results (generated with
 *      generate_series, spread over 24 h, 100 nodes, 2 versions; their rollups built from the same rows
 *      by one GROUP BY, what ingest would have written), against the same figures computed by scanning the
 *      raw rows (the baseline the rollups replace). Goal: route p99 <= 100 ms at 10^7 rows.
 *      Windows 1h (minute rollups) and 24h (hourly), each as a total, per node and per label value.
 *   npm run bench:build && node dist/bench/model-stats.js [rows=10000000] [ingestRecords=60000, 0 = skip part 1]
 *   The results load with the secondary indexes dropped and built after; the database is dropped at the end.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { CONFIDENCE_BUCKET_COUNT, CONFIDENCE_HISTOGRAM_LAYOUT, confidenceBucket, envelopeFields, type HeartbeatMessage, LATENCY_HISTOGRAM_LAYOUT, latencyBucket, type ResultsMessage, sparseHistogram } from '../libs/protocol/src/index.js';
import { packedBucketSql } from '../apps/control-plane/src/telemetry/packed-histogram.js';
import { ROLLUP_TIERS } from '../apps/control-plane/src/telemetry/rollup-sql.js';
import { TelemetryRepository } from '../apps/control-plane/src/telemetry/telemetry.repository.js';
import { createModel, enrolNodes, uploadVersion } from '../test/helpers/fleet.js';
import { denseSoftmaxModel } from '../test/helpers/onnx-model.js';
import { startTestBroker } from '../test/helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../test/helpers/test-app.js';

const ROWS = Number(process.argv[2] ?? 10_000_000);
const INGEST_RECORDS = Number(process.argv[3] ?? 60_000);
const NODES = 100;
const ROUNDS = 3;
const BATCH = 1000;
/** Labels held waiting for their results in the last ingest measurement (the cap POST /v1/feedback keeps). */
const PENDING = 100_000;
const REQUESTS = 100;

type Version = { id: string; sha256: string; version: string };
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const percentile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(q * xs.length) - 1)] as number;

/** Rows/s of results and of heartbeats written with the rollups on and off, alternating rounds. */
async function ingest(t: TestApp, nodeIds: string[], versions: Version[]): Promise<void> {
  const repos = { on: new TelemetryRepository(t.db, { ingest: { rollups: true } }), off: new TelemetryRepository(t.db, { ingest: { rollups: false } }) };
  const elapsed = { results: { on: 0, off: 0 }, heartbeats: { on: 0, off: 0 } };
  let seq = 1_000_000_000;
  const modelOf = (i: number) => versions[i % versions.length] as Version;
  const resultBatch = (): { nodeId: string; message: ResultsMessage['records'][number] }[] =>
    Array.from({ length: BATCH }, (_, i) => {
      const v = modelOf(i % NODES);
      return {
        nodeId: nodeIds[i % NODES] as string,
        message: { seq: seq++, ts: new Date().toISOString(), modelSha256: v.sha256, model: { name: 'bench', version: v.version, variant: 'fp32' }, inputRef: `in-${seq}`, topClass: i % 4, confidence: (i % 100) / 100, latencyMs: 1 + (i % 30) },
      };
    });
  const beatBatch = (): { nodeId: string; message: HeartbeatMessage }[] =>
    Array.from({ length: BATCH }, (_, i) => {
      const v = modelOf(i % NODES);
      const counts = new Array<number>(83).fill(0);
      const confidences = new Array<number>(CONFIDENCE_BUCKET_COUNT).fill(0);
      let confidenceSum = 0;
      for (let k = 0; k < 20; k++) {
        counts[latencyBucket(1 + ((i + k) % 40))]++;
        const c = 0.5 + ((i + k) % 50) / 100;
        confidences[confidenceBucket(c)]++;
        confidenceSum += c;
      }
      return {
        nodeId: nodeIds[i % NODES] as string,
        message: {
          ...envelopeFields(), seq: seq++, model: { name: 'bench', version: v.version, variant: 'fp32', sha256: v.sha256 }, uptimeS: 1, cpu: 0.1, memMb: 100, freeDiskMb: 1000,
          inferences: 21, errors: 1, latencyMs: { p50: 10, p99: 40 }, latencyHistogram: { layout: LATENCY_HISTOGRAM_LAYOUT, counts: sparseHistogram(counts) },
          confidenceHistogram: { layout: CONFIDENCE_HISTOGRAM_LAYOUT, counts: sparseHistogram(confidences), sum: confidenceSum },
        },
      };
    });
  const perRound = Math.max(1, Math.round(INGEST_RECORDS / ROUNDS / BATCH));
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const results = Array.from({ length: perRound }, resultBatch);
      let start = process.hrtime.bigint();
      for (const b of results) await repos[mode].insertResults(b);
      elapsed.results[mode] += seconds(start);
      const beats = Array.from({ length: perRound }, beatBatch);
      start = process.hrtime.bigint();
      for (const b of beats) await repos[mode].insertHeartbeats(b);
      elapsed.heartbeats[mode] += seconds(start);
    }
  }
  const rows = perRound * BATCH * ROUNDS;
  for (const kind of ['results', 'heartbeats'] as const) {
    const [on, off] = [rows / elapsed[kind].on, rows / elapsed[kind].off];
    console.log(`ingest ${kind.padEnd(10)} rollups off ${off.toFixed(0).padStart(7)} rows/s, on ${on.toFixed(0).padStart(7)} rows/s, ratio on/off ${(on / off).toFixed(2)} (goal >= 0.8)`);
  }
  // Held labels: rounds alternate an empty pending_feedback and one with PENDING labels (none matching these results).
  const timed = { none: 0, held: 0 };
  for (let round = 0; round < ROUNDS * 2; round++) {
    const held = round % 2 === 1;
    if (held) {
      await t.db.query(`INSERT INTO pending_feedback (input_ref, label, expires_at) SELECT 'held-' || g, g % 4, now() + interval '1 day' FROM generate_series(1, $1) g`, [PENDING]);
      await t.db.query('ANALYZE pending_feedback');
    }
    const results = Array.from({ length: perRound }, resultBatch);
    const start = process.hrtime.bigint();
    for (const b of results) await repos.on.insertResults(b);
    timed[held ? 'held' : 'none'] += seconds(start);
    await t.db.query('TRUNCATE pending_feedback');
  }
  const [none, held] = [rows / timed.none, rows / timed.held];
  console.log(`ingest results    no labels held ${none.toFixed(0).padStart(7)} rows/s, ${PENDING} held ${held.toFixed(0).padStart(7)} rows/s, ratio ${(held / none).toFixed(2)}`);
  // Heartbeats with the confidence histogram (current agents) vs without (older agents), rollups on, rounds alternated.
  const beats = { with: 0, without: 0 };
  for (let round = 0; round < ROUNDS * 2; round++) {
    const kind = round % 2 === 0 ? 'without' : 'with';
    const batches = Array.from({ length: perRound }, () => beatBatch().map(({ nodeId, message }) => ({ nodeId, message: kind === 'with' ? message : { ...message, confidenceHistogram: undefined } })));
    const start = process.hrtime.bigint();
    for (const b of batches) await repos.on.insertHeartbeats(b);
    beats[kind] += seconds(start);
  }
  const [withC, withoutC] = [rows / beats.with, rows / beats.without];
  console.log(`ingest heartbeats without confidence ${withoutC.toFixed(0).padStart(7)} rows/s, with ${withC.toFixed(0).padStart(7)} rows/s, ratio ${(withC / withoutC).toFixed(2)}`);
}

/** Secondary indexes of inference_results, dropped during the load and built once after it (as a bulk load does). */
const RESULT_INDEXES = {
  inference_results_model_version_id_idx: `CREATE INDEX "inference_results_model_version_id_idx" ON "inference_results" ("model_version_id")`,
  inference_results_input_ref_idx: `CREATE INDEX "inference_results_input_ref_idx" ON "inference_results" ("input_ref") WHERE "input_ref" IS NOT NULL`,
};

/** ROWS results over 24 h by generate_series, in chunks of 10^6 (one statement each, progress on the way). */
async function generateResults(t: TestApp, nodeIds: string[], versions: Version[]): Promise<void> {
  const chunk = 1_000_000;
  for (const name of Object.keys(RESULT_INDEXES)) await t.db.query(`DROP INDEX "${name}"`);
  for (let from = 1; from <= ROWS; from += chunk) {
    await t.db.query(
      `INSERT INTO inference_results (node_id, seq, at, received_at, model_sha256, model_version_id, input_ref, top_class, confidence, latency_ms)
       SELECT ($1::uuid[])[g % $3 + 1], g, ts, ts, ($2::char(64)[])[(g % $3) % 2 + 1], ($4::uuid[])[(g % $3) % 2 + 1], 'ref-' || g, g % 10,
              ((g * 37) % 1000) / 1000.0, 1 + (g % 50)
         FROM generate_series($5::bigint, $6::bigint) AS g, LATERAL (SELECT now() - ((g * 7919) % 86400) * interval '1 second' AS ts) AS x`,
      [nodeIds, versions.map((v) => v.sha256), NODES, versions.map((v) => v.id), from, Math.min(ROWS, from + chunk - 1)],
    );
    if (ROWS > chunk) process.stdout.write(`  ${Math.min(ROWS, from + chunk - 1)} rows\r`);
  }
  await t.db.transaction(async (tx) => {
    await tx.query(`SET LOCAL maintenance_work_mem = '256MB'`);
    for (const sql of Object.values(RESULT_INDEXES)) await tx.query(sql);
  });
}

/**
 * The minute rollups from the raw rows by one GROUP BY per histogram (what ingest maintains batch by batch),
 * then the hourly ones from the minute ones: packed histograms merge by `sum`, so an hour is the sum of its
 * minutes (and reading 10^7 rows twice more would double the set-up time for nothing).
 */
async function buildRollups(t: TestApp): Promise<void> {
  const [minute, hour] = ROLLUP_TIERS;
  if (!minute || !hour) throw new Error('two rollup tiers expected');
  await t.db.query(
    `INSERT INTO ${minute.table} (model_version_id, ${minute.column}, node_id, inferences, errors, latency_hist, results, confidence_sum, confidence_hist)
     SELECT model_version_id, period, node_id, sum(n) + sum(n) / 100, sum(n) / 100,
            sum(${packedBucketSql('n', 'lb')}) FILTER (WHERE kind = 'l'), sum(n) FILTER (WHERE kind = 'l'), sum(s) FILTER (WHERE kind = 'l'),
            sum(${packedBucketSql('n', 'cb')}) FILTER (WHERE kind = 'c')
       FROM (SELECT model_version_id, date_trunc('minute', received_at) AS period, node_id, 'l' AS kind, greatest(ceil(ln(latency_ms::float8 / 0.05) / ln(2.0) * 4)::int, 0) AS lb, 0 AS cb, count(*) AS n, sum(confidence::float8) AS s
               FROM inference_results WHERE model_version_id IS NOT NULL GROUP BY 1, 2, 3, 5
             UNION ALL
             SELECT model_version_id, date_trunc('minute', received_at), node_id, 'c', 0, least(greatest(ceil(confidence::float8 * 20)::int - 1, 0), 19), count(*), 0
               FROM inference_results WHERE model_version_id IS NOT NULL GROUP BY 1, 2, 3, 6) AS b
      GROUP BY model_version_id, period, node_id
     ON CONFLICT (model_version_id, ${minute.column}, node_id) DO NOTHING`,
  );
  await t.db.query(
    `INSERT INTO ${hour.table} (model_version_id, ${hour.column}, node_id, inferences, errors, latency_hist, results, confidence_sum, confidence_hist)
     SELECT model_version_id, date_trunc('hour', ${minute.column}), node_id, sum(inferences), sum(errors), sum(latency_hist), sum(results), sum(confidence_sum), sum(confidence_hist)
       FROM ${minute.table} GROUP BY 1, 2, 3
     ON CONFLICT (model_version_id, ${hour.column}, node_id) DO NOTHING`,
  );
}

async function generate(t: TestApp, nodeIds: string[], versions: Version[]): Promise<void> {
  const start = process.hrtime.bigint();
  await generateResults(t, nodeIds, versions);
  const generated = seconds(start);
  await buildRollups(t);
  await t.db.query('ANALYZE');
  const [{ n } = { n: 0 }] = (await t.db.query(`SELECT count(*)::int AS n FROM model_version_rollups`)) as { n: number }[];
  console.log(`generated ${ROWS} result rows in ${generated.toFixed(0)} s; ${n} minute rollup rows (version × node × minute) and the hourly ones in ${(seconds(start) - generated).toFixed(0)} s`);
}

async function timeRequests(label: string, request: () => Promise<unknown>): Promise<number[]> {
  await request(); // warm
  const ms: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const start = process.hrtime.bigint();
    await request();
    ms.push(seconds(start) * 1000);
  }
  console.log(`${label.padEnd(44)} p50 ${percentile(ms, 0.5).toFixed(1).padStart(7)} ms  p99 ${percentile(ms, 0.99).toFixed(1).padStart(7)} ms`);
  return ms;
}

async function statsRoute(t: TestApp, versions: Version[]): Promise<void> {
  const get = async (query: string) => {
    const res = await fetch(`${t.url}/v1/models/bench/versions/${versions[0]?.version}/stats?${query}`, { headers: bearer(t.adminKey) });
    if (res.status !== 200) throw new Error(`stats route answered ${res.status}: ${await res.text()}`);
    return res.json();
  };
  let worst = 0;
  let p50Of24h = 0;
  for (const window of ['1h', '24h']) {
    for (const group of ['', '&groupBy=node', '&groupBy=label:site']) {
      const ms = await timeRequests(`route window=${window}${group}`, () => get(`window=${window}${group}`));
      worst = Math.max(worst, percentile(ms, 0.99));
      if (window === '24h' && group === '') p50Of24h = percentile(ms, 0.5);
    }
  }
  // The baseline: the same figures by scanning the raw rows (a few runs: each takes a while).
  const scan = () =>
    t.db.query(
      `SELECT count(*), avg(confidence), percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY latency_ms)
         FROM inference_results WHERE model_version_id = $1 AND received_at > now() - interval '24 hours'`,
      [versions[0]?.id],
    );
  const scanMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = process.hrtime.bigint();
    await scan();
    scanMs.push(seconds(start) * 1000);
  }
  console.log(`${'raw-row scan, 24h (baseline, 3 runs)'.padEnd(44)} p50 ${percentile(scanMs, 0.5).toFixed(1).padStart(7)} ms`);
  console.log(`raw-row scan / route (24h, p50): ${(percentile(scanMs, 0.5) / p50Of24h).toFixed(1)}x`);
  console.log(`route p99 worst ${worst.toFixed(1)} ms (goal <= 100 ms at 10^7 rows; here ${ROWS} rows)`);
}

const broker = await startTestBroker();
const t = await startTestApp({ MQTT_URL: broker.url, LOG_LEVEL: 'error' });
try {
  await createModel(t, 'bench', 8, 4);
  const versions: Version[] = [];
  for (const [seed, version] of [[1, '1.0.0'], [2, '2.0.0']] as const) versions.push({ ...(await uploadVersion(t, 'bench', { version }, denseSoftmaxModel(seed, 8).bytes)), version });
  const nodeIds = [...(await enrolNodes(t, NODES / 2, { site: 'north' })), ...(await enrolNodes(t, NODES / 2, { site: 'south' }))];
  console.log(`model-stats bench: ${NODES} nodes, 2 versions, ${randomUUID().slice(0, 8)}`);
  if (INGEST_RECORDS > 0) await ingest(t, nodeIds, versions);
  await t.db.query('TRUNCATE inference_results, node_heartbeats, model_version_rollups, model_version_hourly_rollups');
  await generate(t, nodeIds, versions);
  await statsRoute(t, versions);
} finally {
  // The bench's database (results, rollups and all) is dropped with the app.
  await t.close();
  await broker.stop();
  console.log('dropped the bench database');
}
