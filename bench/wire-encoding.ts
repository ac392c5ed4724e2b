/**
 * Bytes on the wire for the seed CNN: the dense fp32 ONNX as is (the baseline), the dense one gzip-encoded,
 * and the gradually pruned one (80% zeros, `prune.ts`) as is and gzip-encoded — each uploaded to a real
 * control plane (`encoding=gzip` where encoded) and deployed to one real agent over a real Mosquitto,
 * which verifies, decodes and activates it. Every chunk payload the broker carries (broadcast and repair
 * topics) is counted by a subscriber: that is the figure, not a file size.
 *   npm run build && nice -n 19 node dist/pipeline/src/prune.js && npm run bench:build && nice -n 10 node dist/bench/wire-encoding.js
 */
import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import mqtt from 'mqtt';
import { exportOnnx } from '../pipeline/src/export-onnx.js';
import { loadBundle, PRUNED_ONNX } from '../pipeline/src/fixture.js';
import { INPUT_SHAPE } from '../pipeline/src/preprocessing.js';
import { cnnWeights } from '../pipeline/src/weights.js';
import { AgentProcess, waitFor } from '../test/helpers/agent-process.js';
import { uploadVersion } from '../test/helpers/fleet.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../test/helpers/test-app.js';
import { startTestBroker } from '../test/helpers/test-broker.js';

interface Form {
  readonly label: string;
  readonly bytes: Buffer;
  readonly encoding?: 'gzip';
}

interface Row {
  readonly label: string;
  readonly artifactBytes: number;
  readonly wireBytes: number;
  readonly chunks: number;
  readonly seconds: number;
}

const pruned = await readFile(PRUNED_ONNX).catch((error: unknown) => {
  throw new Error(`${PRUNED_ONNX} is missing: run node dist/pipeline/src/prune.js first`, { cause: error });
});
const dense = exportOnnx(cnnWeights(await loadBundle()));
const forms: Form[] = [
  { label: 'dense fp32 ONNX', bytes: dense },
  { label: 'dense fp32 ONNX, gzip', bytes: dense, encoding: 'gzip' },
  { label: 'pruned 80% fp32 ONNX', bytes: pruned },
  { label: 'pruned 80% fp32 ONNX, gzip', bytes: pruned, encoding: 'gzip' },
];

/** Counts the payload bytes of every artifact chunk the broker delivers (broadcast and repairs). */
async function chunkCounter(url: string) {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5 });
  const seen = { bytes: 0, chunks: 0 };
  client.on('message', (topic, payload) => {
    if (!topic.includes('/chunks/')) return;
    seen.bytes += payload.length;
    seen.chunks++;
  });
  await client.subscribeAsync('#', { qos: 1 });
  return { seen, close: () => client.endAsync() };
}

async function deployForm(t: TestApp, agent: AgentProcess, form: Form, n: number, seen: { bytes: number; chunks: number }): Promise<Row> {
  const version = await uploadVersion(t, 'digits', { version: `1.0.${n}`, variant: `v${n}`, ...(form.encoding ? { encoding: form.encoding } : {}) }, form.bytes);
  const before = { ...seen };
  const started = Date.now();
  const res = await t.http().post('/v1/deployments').set(bearer(t.adminKey)).send({ modelVersionId: version.id, nodeIds: [agent.nodeId] }).expect(201);
  const id = (res.body as { id: string }).id;
  const states = async () => ((await t.http().get(`/v1/deployments/${id}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null; reason: string | null }[]).map((x) => `${x.state}${x.reason ? `:${x.reason}` : ''}`);
  const final = await waitFor(states, (s) => s.every((x) => x === 'committed' || x.startsWith('failed') || x.startsWith('rolled-back')), 300_000, `${form.label}: done`);
  if (!final.every((s) => s === 'committed')) throw new Error(`${form.label}: ${final.join(', ')}`);
  const serving = (await agent.status()).model?.sha256;
  if (serving !== version.sha256) throw new Error(`${form.label}: the agent serves ${serving}, not ${version.sha256}`);
  return { label: form.label, artifactBytes: form.bytes.length, wireBytes: seen.bytes - before.bytes, chunks: seen.chunks - before.chunks, seconds: (Date.now() - started) / 1000 };
}

const broker = await startTestBroker();
const t = await startTestApp({ MQTT_URL: broker.url, LOG_LEVEL: 'silent' });
const counter = await chunkCounter(broker.url);
const { token } = await createEnrollmentToken(t, { maxUses: 1 });
const agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name: 'wire', stallSeconds: 3, soak: { inferences: 1_000_000, seconds: 0.3 } });
const rows: Row[] = [];
try {
  const spec = { name: 'digits', task: 'classification', inputSpec: { name: 'input', shape: [...INPUT_SHAPE] }, outputSpec: { name: 'probabilities', shape: [1, 10] } };
  await t.http().post('/v1/models').set(bearer(t.adminKey)).send(spec).expect(201);
  for (const [i, form] of forms.entries()) rows.push(await deployForm(t, agent, form, i + 1, counter.seen));
} finally {
  await agent.remove();
  await counter.close();
  await t.close();
  await broker.stop();
}

const baseline = rows[0]?.wireBytes ?? 1;
console.log(`seed CNN on one real agent, chunks of ${t.config.distribution.chunkSizeBytes / 1024} KiB; wire = chunk payloads the broker delivered (12-byte header each)`);
console.log(`${'form'.padEnd(30)} ${'artifact'.padStart(9)} ${'wire'.padStart(9)} ${'× dense'.padStart(8)} ${'chunks'.padStart(6)} ${'committed'.padStart(10)}`);
for (const r of rows) {
  console.log(`${r.label.padEnd(30)} ${String(r.artifactBytes).padStart(9)} ${String(r.wireBytes).padStart(9)} ${(r.wireBytes / baseline).toFixed(3).padStart(8)} ${String(r.chunks).padStart(6)} ${`${r.seconds.toFixed(1)} s`.padStart(10)}`);
}
