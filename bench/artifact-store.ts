/**
 * The artifact store's two drivers in one run: upload throughput (streamed ingest with hashing, then
 * commit) and chunk-read throughput (every 128 KiB chunk of the artifact, 16 reads in flight, as a
 * broadcast reads them) of the `s3` driver against the `fs` driver, and the s3 driver's block cache
 * (1 MiB ranged GETs) against one GET per chunk. Best of `rounds`; fresh content and a cold cache each round.
 *
 * The S3 side is s3rver on 127.0.0.1, a Node.js server that keeps objects as files: it is NOT a real S3
 * for performance. Its figures show the driver's own overhead over a loopback HTTP store (hashing,
 * multipart framing, the copy to the digest key, per-request cost), not what AWS S3, MinIO or R2 give.
 *   npm run bench:build && node dist/bench/artifact-store.js [sizeMiB=64] [rounds=3]
 */
import { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ArtifactStore } from '../apps/control-plane/src/artifacts/artifact-store.js';
import { BlockCache } from '../apps/control-plane/src/artifacts/block-cache.js';
import { FsArtifactStore } from '../apps/control-plane/src/artifacts/fs-artifact-store.js';
import { S3ArtifactStore } from '../apps/control-plane/src/artifacts/s3-artifact-store.js';
import { startTestS3 } from '../test/helpers/test-s3.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.argv[2] ?? 64) * MiB;
const ROUNDS = Number(process.argv[3] ?? 3);
const CHUNK = 128 * 1024;
const WINDOW = 16;

const seconds = async (work: () => Promise<unknown>) => {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
};

/** Ingest (streamed, hashed) then commit; the commit's share is kept (for s3 it is a server-side copy). */
const upload = async (store: ArtifactStore, bytes: Buffer, commitSeconds: number[]) => {
  const parts = Array.from({ length: Math.ceil(bytes.length / (64 * 1024)) }, (_, i) => bytes.subarray(i * 64 * 1024, (i + 1) * 64 * 1024));
  const blob = await store.ingest(Readable.from(parts), bytes.length);
  commitSeconds.push(await seconds(() => store.commit(blob)));
  return blob.sha256;
};

/** Every chunk once, WINDOW reads in flight: what DistributionService.broadcast does before publishing. */
const readAllChunks = async (store: ArtifactStore, sha256: string) => {
  const reader = await store.openRanges(sha256);
  const count = Math.ceil(SIZE / CHUNK);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      await reader.read(index * CHUNK, Math.min(CHUNK, SIZE - index * CHUNK));
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  await reader.close();
};

const s3 = await startTestS3('edgefleet-bench');
const dir = await mkdtemp(join(tmpdir(), 'ef-store-bench-'));
const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
const s3Store = (cache: BlockCache) => new S3ArtifactStore({ client, bucket: s3.bucket, prefix: 'bench/', partSizeBytes: 8 * MiB, cache, localDir: dir });
try {
  const fs = new FsArtifactStore(join(dir, 'fs'));
  const best = { fsUp: Infinity, s3Up: Infinity, fsRead: Infinity, s3Read: Infinity, s3ReadPerChunk: Infinity };
  let gets = { blocks: 0, perChunk: 0 };
  const commits: Record<'fs' | 's3', number[]> = { fs: [], s3: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const bytes = randomBytes(SIZE);
    let fsSha = '';
    let s3Sha = '';
    best.fsUp = Math.min(best.fsUp, await seconds(async () => (fsSha = await upload(fs, bytes, commits.fs))));
    best.s3Up = Math.min(best.s3Up, await seconds(async () => (s3Sha = await upload(s3Store(new BlockCache(MiB, 32 * MiB)), bytes, commits.s3))));
    best.fsRead = Math.min(best.fsRead, await seconds(() => readAllChunks(fs, fsSha)));
    const blocks = new BlockCache(MiB, 32 * MiB);
    best.s3Read = Math.min(best.s3Read, await seconds(() => readAllChunks(s3Store(blocks), s3Sha)));
    // One ranged GET per chunk: chunk-sized blocks, nothing kept.
    const perChunk = new BlockCache(CHUNK, 0);
    best.s3ReadPerChunk = Math.min(best.s3ReadPerChunk, await seconds(() => readAllChunks(s3Store(perChunk), s3Sha)));
    gets = { blocks: blocks.fetches, perChunk: perChunk.fetches };
  }
  const mbps = (s: number) => `${(SIZE / 1e6 / s).toFixed(0).padStart(5)} MB/s`;
  console.log(`artifact ${SIZE / MiB} MiB, ${Math.ceil(SIZE / CHUNK)} chunks of 128 KiB, best of ${ROUNDS}`);
  console.log('S3 side is s3rver on loopback (files behind a Node.js HTTP server): NOT a real S3 for performance.');
  console.log(`upload      fs ${mbps(best.fsUp)}   s3 ${mbps(best.s3Up)}   ratio s3/fs throughput ${(best.fsUp / best.s3Up).toFixed(2)}`);
  console.log(`  of which commit (fs rename, s3 CopyObject + delete): fs ${Math.min(...commits.fs).toFixed(3)} s, s3 ${Math.min(...commits.s3).toFixed(3)} s`);
  console.log(`chunk read  fs ${mbps(best.fsRead)}   s3 ${mbps(best.s3Read)}   ratio s3/fs throughput ${(best.fsRead / best.s3Read).toFixed(2)}`);
  console.log(`s3 chunk read, 1 MiB blocks (${gets.blocks} GETs) vs one GET per chunk (${gets.perChunk} GETs): ${mbps(best.s3Read)} vs ${mbps(best.s3ReadPerChunk)}, ratio ${(best.s3ReadPerChunk / best.s3Read).toFixed(2)}`);
} finally {
  client.destroy();
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
}
