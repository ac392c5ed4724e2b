/**
 * Artifact verification throughput vs a raw sha256 of the same file, measured in one run.
 *   npm run bench:build && node dist/bench/verify-throughput.js [sizeMiB=100] [rounds=9]
 * Prints MB/s for each and the ratio verify/raw (goal ≥ 0.9).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyArtifactStream } from '../libs/trust/src/index.js';

const sizeMiB = Number(process.argv[2] ?? 100);
const rounds = Number(process.argv[3] ?? 9);
const dir = await mkdtemp(join(tmpdir(), 'ef-bench-'));
const file = join(dir, 'artifact.bin');
const bytes = randomBytes(sizeMiB * 1024 * 1024);
const sha256 = createHash('sha256').update(bytes).digest('hex');
await writeFile(file, bytes);

async function raw(): Promise<void> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  if (hash.digest('hex') !== sha256) throw new Error('raw digest mismatch');
}
const verify = () => verifyArtifactStream(createReadStream(file), { sha256, size: bytes.length }, { stallTimeoutMs: 10_000 });

async function seconds(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

try {
  await raw(); // warm the page cache for both
  // Alternate the two in every round so both see the same machine load; keep each one's best.
  let rawS = Infinity;
  let verifyS = Infinity;
  for (let i = 0; i < rounds; i++) {
    rawS = Math.min(rawS, await seconds(raw));
    verifyS = Math.min(verifyS, await seconds(verify));
  }
  const mbps = (s: number) => (bytes.length / 1e6 / s).toFixed(0);
  console.log(`file ${sizeMiB} MiB, best of ${rounds}`);
  console.log(`raw sha256          ${mbps(rawS)} MB/s`);
  console.log(`verifyArtifactStream ${mbps(verifyS)} MB/s`);
  console.log(`ratio verify/raw    ${(rawS / verifyS).toFixed(3)}  (goal >= 0.9)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
