/**
 * `npm run demo`: the seed pipeline end to end on this machine. The offline half (evaluate the trained
 * CNN, export ONNX and TFLite, check both, quantise to int8, prune) runs here; then a control plane and
 * three agents are started as real processes, fp32 and a low-power variant are registered as variants of
 * one version (the lightweight depthwise-separable CNN as int8 ONNX when its fixture is there, else the
 * seed CNN as int8 TFLite), rolled out (the low-power variant to the node labelled power=low), the 10,000
 * test images go through each agent's local
 * API, and the results the fleet sent back to PostgreSQL are scored per variant against the offline figures.
 *
 * `npm run demo -- --tls` (or DEMO_TLS=1): the same over MQTT with TLS, on a private Mosquitto with the
 * TLS listener of deploy/mosquitto/mosquitto-tls.conf and a CA made by scripts/make-tls.sh, which the
 * control plane (MQTT_CA_FILE) and the agents (mqttCaFile) pin.
 *
 * `npm run demo -- --keep` (or DEMO_KEEP=1): at the end the control plane and the agents keep running, and
 * the demo prints the web console's address and the admin key to sign in with; Ctrl-C stops everything.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fleetTopics } from '#protocol';
import { createDatabase, dropDatabase } from '../../apps/control-plane/src/database/database-admin.js';
import { DIGITS_PREPROCESSING, INPUT_SHAPE } from './preprocessing.js';
import { PIXELS } from './mnist.js';
import { describeComparison } from './export-check.js';
import { type ExportCheck, runOfflinePipeline, type OfflineReport } from './pipeline.js';
import { startPrivateTlsBroker } from './private-broker.js';
import { type Child, freePort, spawnChild, waitUntil } from './processes.js';
import { clearRetained } from './retained.js';
import { edgefleetCli } from './demo-cli.js';

const WORK = resolve('.edgefleet/demo');
const IMAGES = Number(process.env['DEMO_IMAGES'] ?? 10_000);
const step = (title: string) => console.log(`\n▶ ${title}`);
const ms = (from: number) => `${((Date.now() - from) / 1000).toFixed(1)} s`;

// Its own namespace on the broker: the demo never meets an installation of yours there.
const FLEET_NAMESPACE = 'edgefleet-demo';
const TLS = process.argv.includes('--tls') || process.env['DEMO_TLS'] === '1';
const KEEP = process.argv.includes('--keep') || process.env['DEMO_KEEP'] === '1';
const BROKER_URL = process.env['MQTT_URL'] ?? 'mqtt://127.0.0.1:1883';

const children: Child[] = [];
const cleanup = async () => {
  for (const child of children.reverse()) await child.stop();
  children.length = 0;
  // The private TLS broker is gone with its messages (no persistence); the shared one keeps them.
  if (TLS) return;
  // After the agents stopped (their last presence is retained too): leave nothing on the broker.
  await clearRetained(BROKER_URL, fleetTopics(FLEET_NAMESPACE)).then(
    (count) => console.log(`\n  cleared ${count} retained messages under ef/v1/${FLEET_NAMESPACE}/ on ${BROKER_URL}`),
    (error: unknown) => console.error(`\n  could not clear the demo's retained messages on ${BROKER_URL}:`, error),
  );
};
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  const t0 = Date.now();
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });

  step('offline pipeline: trained CNN → ONNX, TFLite, int8, pruning (10,000 MNIST test images)');
  const offline = await runOfflinePipeline(join(WORK, 'artifacts'), (line) => console.log(`  ${line}`));

  const broker = TLS ? await startTlsBroker() : { url: BROKER_URL, caFile: undefined };

  step('control plane and three agents');
  const base = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/edgefleet';
  const databaseUrl = base.replace(/\/[^/]*$/, '/edgefleet_demo');
  await dropDatabase(databaseUrl).catch(() => undefined);
  await createDatabase(databaseUrl);
  const adminKey = `efk_${randomBytes(32).toString('base64url')}`;
  const keysDir = join(WORK, 'keys');
  await spawnChild('keys', process.execPath, ['dist/apps/control-plane/src/cli/keys.js', 'init', '--dir', keysDir], {}).then((c) => c.exited);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const cp = await spawnChild('control-plane', process.execPath, ['dist/apps/control-plane/src/main.js'], {
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    ADMIN_API_KEY: adminKey,
    KEYS_DIR: keysDir,
    ARTIFACT_DIR: join(WORK, 'store'),
    MQTT_URL: broker.url,
    ...(broker.caFile ? { MQTT_CA_FILE: broker.caFile } : {}),
    FLEET_NAMESPACE,
    QUEUE_PREFIX: `edgefleet-demo-${randomBytes(3).toString('hex')}`,
    MQTT_CLIENT_ID: `edgefleet-demo-${randomBytes(3).toString('hex')}`,
    MQTT_SHARED_GROUP: `edgefleet-demo-${randomBytes(3).toString('hex')}`,
    ROLLOUT_TICK_MS: '250',
    LOG_LEVEL: 'warn',
  });
  children.push(cp);
  const api = apiClient(url, adminKey);
  // The operator's steps go through the CLI, as a user would run them; the demo's own checks use the API.
  const cliConfig = join(WORK, 'edgefleet.json');
  const edgefleet = edgefleetCli(cliConfig);
  await waitUntil(async () => (await fetch(`${url}/health`)).ok, 30_000, 'control plane healthy');
  console.log(`  control plane ${url} (database edgefleet_demo), broker ${broker.url}${broker.caFile ? ' (TLS, CA pinned by the control plane and the agents)' : ''}`);

  const agents = await startAgents(api, url, broker.caFile);
  children.push(...agents.map((a) => a.child));
  console.log(`  agents: ${agents.map((a) => `${a.name}${a.lowPower ? ' (power=low)' : ''} → 127.0.0.1:${a.apiPort}`).join(', ')}`);

  const low = lowPowerVariant(offline);
  step(`register fp32 (ONNX) and ${low.variant} (${low.check.name}) as variants of digits 1.0.0, signed`);
  await edgefleet(['login', '--url', url], { EDGEFLEET_API_KEY: adminKey });
  const versions = await register(edgefleet, offline, low);
  console.log(`  fp32 ${versions.fp32.sha256.slice(0, 12)}… ${offline.exports.onnx.bytes} B, ${low.variant} ${versions.low.sha256.slice(0, 12)}… ${low.check.bytes} B`);

  step(`rollout: canary wave then the rest; ${low.variant} to power=low nodes, fp32 elsewhere`);
  const rolloutStart = Date.now();
  const variants = [{ modelVersionId: versions.low.id, match: { selector: 'power=low' } }, { modelVersionId: versions.fp32.id }];
  const strategy = { waves: { percentages: [34, 100] }, bakeSeconds: 1, failureThreshold: { count: 1 }, nodeTimeoutSeconds: 120 };
  const rollout = JSON.parse(
    await edgefleet(['rollouts', 'create', '--name', 'digits 1.0.0 to the demo fleet', '-l', 'site=demo', '--variants', JSON.stringify(variants), '--strategy', JSON.stringify(strategy), '--start', '--json']),
  ) as { id: string };
  // watch exits non-zero when the rollout halts: the demo stops there with the reason printed.
  await edgefleet(['rollouts', 'watch', rollout.id, '--timeout', '180']);
  const done = await api.get<RolloutView>(`/v1/rollouts/${rollout.id}`);
  const rolloutSeconds = (Date.now() - rolloutStart) / 1000;
  console.log(`  ${done.state} in ${rolloutSeconds.toFixed(1)} s: ${done.events.filter((e) => e.kind === 'wave-started').length} waves`);
  if (done.state !== 'completed') throw new Error(`the rollout ${done.state}: ${done.haltReason}`);
  await waitUntil(async () => (await Promise.all(agents.map((a) => a.status()))).every((s) => s.phase === 'idle' && s.model), 60_000, 'agents serving');

  step(`inference: ${IMAGES.toLocaleString('en')} test images through each agent's local API`);
  const inferStart = Date.now();
  const latencies = await Promise.all(agents.map((a) => feed(a, offline, IMAGES)));
  console.log(`  ${(IMAGES * agents.length).toLocaleString('en')} requests in ${ms(inferStart)}`);

  step('results back in the control plane: the test labels as feedback, accuracy per variant from the stats route');
  const fleet = await fleetAccuracy(api, offline.labels, agents.length * IMAGES, ['fp32', low.variant]);

  const offlineFor = new Map([['fp32', offline.exports.onnx], [low.variant, low.check]]);
  const rows = [...offlineFor].map(([variant, off]) => {
    const f = fleet.get(variant);
    return {
      variant,
      engine: off.engine,
      bytes: off.bytes,
      offline: `${(off.accuracy * 100).toFixed(2)}%`,
      fleetNodes: f?.nodes ?? 0,
      fleet: f ? `${((f.correct / f.count) * 100).toFixed(2)}%` : 'n/a',
      sameAsOffline: f ? Math.abs(f.correct / f.count - off.accuracy) < 1e-9 && f.count === f.nodes * IMAGES : false,
      'p50 ms (HTTP, 8 in flight)': median(agents.filter((a) => (a.lowPower ? low.variant : 'fp32') === variant).flatMap((a) => latencies[agents.indexOf(a)] as number[])).toFixed(2),
    };
  });

  printSummary(offline, rows, rolloutSeconds, url, Date.now() - t0);
  if (!rows.every((r) => r.sameAsOffline)) throw new Error('the fleet accuracy differs from the offline accuracy');
  if (KEEP) {
    console.log(`\n  the web console: ${url}/   sign in with the admin key ${adminKey}`);
    console.log('  the control plane and the three agents keep running; Ctrl-C stops them and clears the broker');
    // The SIGINT handler cleans up and exits; until then the children keep this process alive.
    await new Promise<never>(() => undefined);
  }
} finally {
  await cleanup();
}

/** The admin API as the demo uses it; answers are typed by the caller (the OpenAPI document has them all). */
interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  upload(path: string, fields: Record<string, string>, file: Uint8Array): Promise<{ id: string; sha256: string }>;
}

interface RolloutView {
  readonly state: string;
  readonly haltReason: string | null;
  readonly events: { kind: string }[];
}

function apiClient(url: string, key: string): Api {
  const call = async <T>(path: string, init: RequestInit): Promise<T> => {
    const res = await fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers ?? {}) } });
    const body = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body as T;
  };
  return {
    get: <T>(path: string) => call<T>(path, {}),
    post: <T>(path: string, body: unknown) => call<T>(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    upload: (path, fields, file) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append('artifact', new Blob([Buffer.from(file)]), 'model.bin');
      return call(path, { method: 'POST', body: form });
    },
  };
}

interface DemoAgent {
  readonly name: string;
  readonly lowPower: boolean;
  readonly apiPort: number;
  readonly child: Child;
  status(): Promise<{ phase: string; model: unknown }>;
}

/** The TLS demo's own broker: a child stopped last, at cleanup. */
async function startTlsBroker(): Promise<{ url: string; caFile: string }> {
  step('private Mosquitto with the TLS listener of deploy/mosquitto/mosquitto-tls.conf; CA and certificate by scripts/make-tls.sh');
  const broker = await startPrivateTlsBroker(join(WORK, 'broker'));
  children.push(broker.child);
  console.log(`  ${broker.url}, CA ${broker.caFile}`);
  return broker;
}

async function startAgents(api: Api, url: string, mqttCaFile: string | undefined): Promise<DemoAgent[]> {
  const specs = [
    { name: 'camera-1', lowPower: false },
    { name: 'camera-2', lowPower: false },
    { name: 'sensor-3', lowPower: true },
  ];
  const agents: DemoAgent[] = [];
  for (const spec of specs) {
    const token = await api.post<{ token: string }>('/v1/enrollment-tokens', { name: spec.name, maxUses: 1, expiresInSeconds: 3600, labels: { site: 'demo', ...(spec.lowPower ? { power: 'low' } : {}) } });
    const apiPort = await freePort();
    const dir = join(WORK, spec.name);
    await mkdir(dir, { recursive: true });
    const config = join(dir, 'agent.json');
    await writeFile(config, JSON.stringify({ controlPlaneUrl: url, stateDir: join(dir, 'state'), enrollmentToken: token.token, name: spec.name, apiPort, heartbeatSeconds: 2, soak: { inferences: 1, seconds: 1 }, mqttCaFile }));
    const child = await spawnChild(spec.name, process.execPath, ['dist/agent/main.js', 'run', '--config', config], {});
    const status = async () => (await (await fetch(`http://127.0.0.1:${apiPort}/v1/status`)).json()) as { phase: string; model: unknown };
    await waitUntil(async () => (await status()).phase !== undefined, 30_000, `${spec.name} up`);
    agents.push({ ...spec, apiPort, child, status });
  }
  return agents;
}

/** What the power=low node runs: the lightweight CNN as int8 ONNX when it was trained, else the seed CNN as int8 TFLite. */
function lowPowerVariant(offline: OfflineReport): { variant: string; check: ExportCheck } {
  return offline.light ? { variant: 'light-int8', check: offline.light.int8 } : { variant: 'int8', check: offline.exports.tfliteInt8 };
}

/** `models create`, then `models push` per variant with its golden self-test; the versions' ids from `models versions`. */
async function register(
  edgefleet: ReturnType<typeof edgefleetCli>,
  offline: OfflineReport,
  low: { variant: string; check: ExportCheck },
): Promise<{ fp32: { id: string; sha256: string }; low: { id: string; sha256: string } }> {
  const labels = Array.from({ length: 10 }, (_, i) => String(i)).join(',');
  await edgefleet(['models', 'create', '--name', 'digits', '--task', 'classification', '--input-shape', INPUT_SHAPE.join(','), '--output-shape', '1,10', '--input-name', 'input', '--output-name', 'probabilities', '--labels', labels]);
  const golden = Array.from(offline.testImagesRaw.subarray(0, PIXELS));
  const push = async (variant: string, check: ExportCheck) => {
    // The golden test: test image 0 must come out as this variant gave it offline.
    const selfTestFile = join(WORK, `self-test-${variant}.json`);
    await writeFile(selfTestFile, JSON.stringify({ input: golden, expectedOutput: Array.from(check.firstOutput), tolerance: 1e-4 }));
    const metrics = JSON.stringify({ accuracy: check.accuracy, maxAbsDiff: check.maxAbsDiff });
    const stats = check.referenceStatsPath ? ['--reference-stats', check.referenceStatsPath] : [];
    await edgefleet(['models', 'push', check.path, '--name', 'digits', '--version', '1.0.0', '--variant', variant, '--self-test', selfTestFile, '--preprocessing', JSON.stringify(DIGITS_PREPROCESSING), '--metrics', metrics, ...stats]);
  };
  await push('fp32', offline.exports.onnx);
  await push(low.variant, low.check);
  const versions = JSON.parse(await edgefleet(['models', 'versions', 'digits', '--json'])) as { id: string; sha256: string; variant: string }[];
  const find = (variant: string) => {
    const found = versions.find((v) => v.variant === variant);
    if (!found) throw new Error(`digits 1.0.0 ${variant} is not listed after its push`);
    return found;
  };
  return { fp32: find('fp32'), low: find(low.variant) };
}

/** Sends `count` test images (raw bytes: the agent applies the manifest's preprocessing), 8 at a time. */
async function feed(agent: DemoAgent, offline: OfflineReport, count: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const started = performance.now();
      const res = await fetch(`http://127.0.0.1:${agent.apiPort}/v1/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: Array.from(offline.testImagesRaw.subarray(i * PIXELS, (i + 1) * PIXELS)), inputRef: `mnist-test-${i}` }),
      });
      if (!res.ok) throw new Error(`${agent.name}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return latencies;
}

/** The parts of `GET /v1/models/:name/versions/:version/stats` the summary reads. */
interface VersionStats {
  readonly total: { readonly results: number; readonly feedback: { readonly labelled: number; readonly correct: number } };
  readonly groups: { readonly key: string | null; readonly results: number }[];
}

/**
 * Feeds the test set's labels to `POST /v1/feedback` (joined by the control plane to the stored results by
 * inputRef) and reads the accuracy per variant from the stats route: what an operator's labelling process does.
 */
async function fleetAccuracy(api: Api, labels: Uint8Array, expected: number, variants: readonly string[]): Promise<Map<string, { nodes: number; count: number; correct: number }>> {
  const stats = (query: string) => api.get<VersionStats>(`/v1/models/digits/versions/1.0.0/stats?window=1h${query}`);
  await waitUntil(async () => (await stats('')).total.results >= expected, 120_000, 'results stored');
  for (let start = 0; start < IMAGES; start += 1000) {
    const items = Array.from({ length: Math.min(1000, IMAGES - start) }, (_, k) => ({ inputRef: `mnist-test-${start + k}`, label: labels[start + k] as number }));
    const answer = await api.post<{ unmatched: number[] }>('/v1/feedback', { items });
    if (answer.unmatched.length > 0) throw new Error(`feedback matched no result for ${answer.unmatched.length} test images`);
  }
  const out = new Map<string, { nodes: number; count: number; correct: number }>();
  for (const variant of variants) {
    const s = await stats(`&variant=${variant}&groupBy=node`);
    out.set(variant, { nodes: s.groups.filter((g) => g.results > 0).length, count: s.total.feedback.labelled, correct: s.total.feedback.correct });
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function printSummary(offline: OfflineReport, rows: Record<string, unknown>[], rolloutSeconds: number, url: string, totalMs: number): void {
  const t = offline.training;
  console.log('\n══════════════════════════════ EdgeFleet seed pipeline ══════════════════════════════');
  console.log(`training     ${t.epochs} epochs on 60,000 images, ${t.secondsPerEpoch.map((s) => `${s.toFixed(0)} s`).join(' + ')} per epoch (${t.backend}); test accuracy ${(offline.trainedAccuracy * 100).toFixed(2)}%`);
  console.log('exports      (checked against the trained model on all 10,000 test images)');
  console.table(
    [...Object.values(offline.exports), ...(offline.light ? [offline.light.fp32, offline.light.int8] : [])].map((e) => ({ model: e.name, engine: e.engine, bytes: e.bytes, accuracy: `${(e.accuracy * 100).toFixed(2)}%`, 'max |Δ|': e.maxAbsDiff.toExponential(2), 'same class': `${(e.classAgreement * 100).toFixed(2)}%` })),
  );
  console.log(describeComparison('int8         TFLite int8 vs fp32 (LiteRT)', offline.int8));
  console.log(describeComparison('             ONNX int8 (QDQ) vs fp32 (ONNX Runtime)', offline.onnxInt8));
  console.log(describeComparison('             ONNX int8 vs TFLite int8', offline.onnxInt8VsTfliteInt8));
  const light = offline.light;
  if (light) {
    console.log(`light        depthwise-separable CNN, ${light.parameters} parameters vs ${light.seedParameters}; ${(light.trainedAccuracy * 100).toFixed(2)}% (${light.training.epochs} epochs, ${light.training.secondsPerEpoch.map((s) => `${s.toFixed(0)} s`).join(' + ')})`);
    console.log(describeComparison('             light fp32 vs seed fp32 (ONNX)', light.vsSeed));
    console.log(describeComparison('             light int8 vs seed int8 (ONNX)', light.int8VsSeedInt8));
  }
  console.log(`pruning      ${offline.pruning.map((p) => `${(p.sparsity * 100).toFixed(0)}% zeros → ${(p.accuracy * 100).toFixed(2)}%`).join(', ')} (one-shot, no fine-tuning)`);
  const tuned = offline.pruningFineTuned;
  if (tuned) {
    console.log(`             gradual, fine-tuned on ${tuned.fineTuneImages} images: ${(tuned.measuredSparsity * 100).toFixed(1)}% zeros → ${(tuned.prunedAccuracy * 100).toFixed(2)}%; gzip ${tuned.prunedGzipBytes} vs ${tuned.denseGzipBytes} B (prune.ts)`);
  }
  console.log(`rollout      ${rolloutSeconds.toFixed(1)} s from start to completed (2 waves, 3 nodes)`);
  console.log('fleet        accuracy per variant from GET /v1/models/digits/versions/1.0.0/stats (labels sent to POST /v1/feedback)');
  console.table(rows);
  console.log(`total        ${(totalMs / 1000).toFixed(0)} s`);
  console.log('\nWhere to look next:');
  // Run with --keep, the fleet is still up: recommending --keep again would send the reader in a circle.
  if (!KEEP) console.log(`  npm run demo -- --keep   the same, then leaves the fleet running with the web console at its URL`);
  console.log(`  npm start, then ${url.replace(/:\d+$/, ':3000')}/   the web console (sign in with the key in .edgefleet/admin-key)   ·   /docs   the admin API (OpenAPI)   ·   /metrics`);
  console.log('  npm run train   retrain the CNN (progress bar) into .edgefleet/train/ (--out pipeline/fixtures to replace the demo model)');
  console.log('  edgefleet-agent: node dist/agent/main.js status --config <agent.json>');
  console.log('  the edgefleet CLI against your control plane (docs/cli.md), e.g. after npm start:');
  console.log('    alias edgefleet="node dist/apps/cli/src/main.js"; EDGEFLEET_API_KEY=<admin key> edgefleet login --url http://127.0.0.1:3000');
  console.log('    edgefleet nodes ls   ·   edgefleet models ls   ·   edgefleet models versions digits   ·   edgefleet rollouts ls');
  console.log('    edgefleet rollouts dry-run --name try --model digits --version 1.0.0 -l site=demo   ·   edgefleet rollouts watch <id>');
  console.log('  the demo database edgefleet_demo keeps the rollout, results and audit rows for inspection');
}
