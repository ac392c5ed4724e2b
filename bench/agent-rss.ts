/**
 * Resident memory of a real agent serving the seed CNN (pipeline/fixtures) on each engine — ONNX Runtime,
 * LiteRT (TFLite fp32) and TensorFlow.js — as the systemd unit runs it (its node flags and environment,
 * read from deploy/agent/edgefleet-agent.service). One fresh agent per engine, deployed through the real
 * control plane and Mosquitto, sampled every 100 of 1,000 requests (max, median, min). Goal: <= 100 MB for every engine.
 *   npm run build && npm run bench:build && node dist/bench/agent-rss.js [--node-flag ...] [ENV_NAME=value ...]
 * (RSS_DETAIL=1 lists the mappings holding the most memory.)
 */
import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportTfliteFp32 } from '../pipeline/src/export-tflite.js';
import { FIXTURE } from '../pipeline/src/fixture.js';
import { DIGITS_PREPROCESSING } from '../pipeline/src/preprocessing.js';
import { AgentProcess, waitFor } from '../test/helpers/agent-process.js';
import { deploy, uploadVersion } from '../test/helpers/fleet.js';
import { createEnrollmentToken, startTestApp } from '../test/helpers/test-app.js';
import { startTestBroker } from '../test/helpers/test-broker.js';
import { createDigitsModel, seedCnn } from './seed-cnn.js';


/** The mappings holding the most resident memory (RSS_DETAIL=1), to see where it goes. */
async function largestMappings(pid: number): Promise<string> {
  const smaps = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const totals = new Map<string, number>();
  let name = '';
  for (const line of smaps.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) name = header[1] || '[anon]';
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) totals.set(name, (totals.get(name) ?? 0) + Number(rss[1]));
  }
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([n, k]) => `    ${(k / 1024).toFixed(1).padStart(6)} MB  ${n}`).join('\n');
}

const unit = await readFile('deploy/agent/edgefleet-agent.service', 'utf8');
// Extra `--flags` and `NAME=value` arguments try a variant of the unit's settings.
const variantArgs = process.argv.slice(2);
const env = {
  ...Object.fromEntries([...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string])),
  ...Object.fromEntries(variantArgs.filter((a) => /^[A-Z_]+=/.test(a)).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)])),
};
const nodeArgs = [...(/^ExecStart=\S+node((?: --\S+)*) /m.exec(unit)?.[1]?.trim().split(' ').filter(Boolean) ?? []), ...variantArgs.filter((a) => a.startsWith('--'))];

const dir = await mkdtemp(join(tmpdir(), 'ef-agent-rss-'));
const broker = await startTestBroker();
const t = await startTestApp({ MQTT_URL: broker.url });
try {
  const { weights, onnxBytes, image, expected } = await seedCnn(dir);
  await createDigitsModel(t);
  const variants = [
    { engine: 'onnxruntime', format: 'onnx', version: '1.0.0', bytes: onnxBytes },
    { engine: 'litert', format: 'tflite', version: '1.0.1', bytes: Buffer.from(exportTfliteFp32(weights)) },
    { engine: 'tfjs', format: 'tfjs', version: '1.0.2', bytes: await readFile(FIXTURE) },
  ] as const;
  console.log(`as the systemd unit runs it: ${[...nodeArgs, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ')}`);
  for (const variant of variants) {
    const version = await uploadVersion(
      t,
      'digits',
      { version: variant.version, variant: variant.format, format: variant.format, engine: variant.engine, preprocessing: { ...DIGITS_PREPROCESSING }, selfTest: { input: image, expectedOutput: Array.from(expected), tolerance: 1e-4 } },
      variant.bytes,
    );
    const { token } = await createEnrollmentToken(t);
    const agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1, seconds: 0.1 }, heartbeatSeconds: 10, env, nodeArgs });
    try {
      await deploy(t, version.id, { nodeIds: [agent.nodeId] });
      await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256 && s.phase === 'idle', 60_000, `${variant.engine} model served`);
      // Resident memory moves with the garbage collector: sample it after every 100 of 1,000 requests.
      const samples: { rss: number; anon: number; file: number }[] = [];
      for (let i = 1; i <= 1000; i++) {
        const res = await agent.infer(image);
        if (res.status !== 200) throw new Error(`${variant.engine}: HTTP ${res.status} ${await res.text()}`);
        if (i % 100 === 0) {
          const status = await readFile(`/proc/${agent.child?.pid}/status`, 'utf8');
          const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]) / 1024;
          samples.push({ rss: mb('VmRSS'), anon: mb('RssAnon'), file: mb('RssFile') });
        }
      }
      const rss = samples.map((x) => x.rss).sort((a, b) => a - b);
      const last = samples.at(-1);
      console.log(
        `${variant.engine.padEnd(12)} RSS max ${(rss.at(-1) ?? 0).toFixed(1)} MB (goal <= 100), median ${(rss[Math.floor(rss.length / 2)] ?? 0).toFixed(1)}, min ${(rss[0] ?? 0).toFixed(1)}; at the end anonymous ${last?.anon.toFixed(1)} MB, file-backed ${last?.file.toFixed(1)} MB`,
      );
      if (process.env['RSS_DETAIL']) console.log(await largestMappings(agent.child?.pid ?? 0));
    } finally {
      await agent.remove();
    }
  }
} finally {
  await t.close();
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
}
