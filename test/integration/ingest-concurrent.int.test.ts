import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { envelopeFields, type HeartbeatMessage } from '#protocol';
import { dataSourceOptions } from '../../apps/control-plane/src/database/data-source.js';
import { runMigrations } from '../../apps/control-plane/src/database/migrate.js';
import { loadConfig } from '../../apps/control-plane/src/config/config.js';
import { type FromNode, TelemetryRepository } from '../../apps/control-plane/src/telemetry/telemetry.repository.js';
import { AttestationRepository } from '../../apps/control-plane/src/attestation/attestation.repository.js';
import { EventRecorder } from '../../apps/control-plane/src/events/event-recorder.js';
import { EventsRepository } from '../../apps/control-plane/src/events/events.repository.js';
import { createTestDatabase } from '../helpers/test-database.js';

const NODES = 500;
const ROUNDS = 6;

/** A shuffled copy: each batch meets the nodes in its own order, as heartbeats arrive. */
const shuffled = <T>(xs: readonly T[]): T[] => {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

/**
 * Two writers storing heartbeats of the same nodes at once: two replicas, or two lanes of one replica's
 * heartbeat writer. A COPY's foreign-key checks lock the batch's node rows (FOR KEY SHARE) in arrival
 * order while the other writer's presence update locks them in id order: with FOR UPDATE there, the two
 * deadlocked and PostgreSQL aborted one batch.
 */
describe('heartbeat ingest by two writers at once, and beside attestation verdicts', () => {
  let db: { url: string; drop: () => Promise<void> };
  let ds: DataSource;
  let nodeIds: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ ...process.env, DATABASE_URL: db.url });
    ds = await new DataSource(dataSourceOptions(config.database)).initialize();
    await runMigrations(ds);
    nodeIds = Array.from({ length: NODES }, () => randomUUID());
    await ds.query(`INSERT INTO nodes (id, node_key, name, hardware) SELECT id, id::text, id::text, '{}' FROM unnest($1::uuid[]) AS id`, [nodeIds]);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  /** One heartbeat of `nodeId` naming `model`. */
  const heartbeat = (nodeId: string, seq: number, model: NonNullable<HeartbeatMessage['model']>): FromNode<HeartbeatMessage> => ({
    nodeId,
    message: { ...envelopeFields(), seq, model, uptimeS: seq, cpu: 0.1, memMb: 100, freeDiskMb: 1000, inferences: 1, errors: 0, latencyMs: null },
  });
  const batch = (seq: number): FromNode<HeartbeatMessage>[] =>
    shuffled(nodeIds).map((nodeId) => heartbeat(nodeId, seq, { name: 'digits', version: '1.0.0', variant: 'fp32', sha256: 'ab'.repeat(32) }));

  it('stores every batch of both, with no deadlock, when both also mark the nodes seen', async () => {
    const failures: unknown[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // New repositories each round: each marks every node seen again (its own memory of what it wrote is empty).
      const writers = [0, 1].map(() => new TelemetryRepository(ds, { ingest: { rollups: true } }));
      const results = await Promise.allSettled(writers.map((w, i) => w.insertHeartbeats(batch(2 * round + i + 1))));
      for (const r of results) if (r.status === 'rejected') failures.push(r.reason);
    }
    expect(failures.map((e) => String(e))).toEqual([]);
    const [{ n }] = (await ds.query('SELECT count(*)::int AS n FROM node_heartbeats')) as [{ n: number }];
    expect(n).toBe(NODES * 2 * ROUNDS);
  });

  it('stores attestation verdicts beside heartbeats of the same nodes with no deadlock', async () => {
    // The verdicts' UPDATE locked node rows in the batch's order; the presence update locks them in id order.
    const attestation = new AttestationRepository(ds, new EventRecorder(new EventsRepository(ds)));
    const failures: unknown[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const verdicts = shuffled(nodeIds).map((nodeId) => ({ nodeId, verdict: 'verified' as const, sha256: 'ab'.repeat(32) }));
      const heartbeats = new TelemetryRepository(ds, { ingest: { rollups: false } });
      const results = await Promise.allSettled([
        attestation.record(verdicts),
        heartbeats.insertHeartbeats(batch(1000 + round)),
        attestation.expireVerdicts(0),
      ]);
      for (const r of results) if (r.status === 'rejected') failures.push(r.reason);
    }
    expect(failures.map((e) => String(e))).toEqual([]);
  });

  it('keeps the model of the newest heartbeat when an older one is stored after it (two replicas)', async () => {
    await ds.query(`INSERT INTO artifacts (sha256, size_bytes) VALUES ($1, 1), ($2, 1)`, ['c1'.repeat(32), 'c2'.repeat(32)]);
    const versions = (await ds.query(
      `WITH m AS (INSERT INTO models (name, task, input_spec, output_spec) VALUES ('ordered', 'classification', '{}', '{}') RETURNING id)
       INSERT INTO model_versions (model_id, version, variant, format, engine, artifact_sha256, sequence, manifest, created_by)
       SELECT m.id, v.version, 'fp32', 'onnx', 'onnxruntime', v.sha, v.seq, '{}', 'test'
         FROM m, (VALUES ('1.0.0', $1::char(64), 1), ('2.0.0', $2::char(64), 2)) AS v(version, sha, seq)
       RETURNING id, version`,
      ['c1'.repeat(32), 'c2'.repeat(32)],
    )) as { id: string; version: string }[];
    const idOf = (version: string) => versions.find((v) => v.version === version)?.id;
    const nodeId = nodeIds[0] as string;
    const beat = (seq: number, version: '1.0.0' | '2.0.0') =>
      heartbeat(nodeId, seq, { name: 'ordered', version, variant: 'fp32', sha256: (version === '1.0.0' ? 'c1' : 'c2').repeat(32) });
    const current = async () => ((await ds.query(`SELECT current_model_version_id AS id FROM nodes WHERE id = $1`, [nodeId])) as { id: string | null }[])[0]?.id;
    // Each replica its own repository (its own memory of what it wrote).
    const replica = () => new TelemetryRepository(ds, { ingest: { rollups: false } });
    // Online by its presence alone (no heartbeat seq yet): its first heartbeat sets the model at once.
    await ds.query(`UPDATE nodes SET status = 'online', last_seen_at = now(), last_heartbeat_seq = NULL, last_heartbeat_seq_at = NULL WHERE id = $1`, [nodeId]);
    await replica().insertHeartbeats([beat(5_000_000, '1.0.0')]);
    expect(await current()).toBe(idOf('1.0.0'));
    await replica().insertHeartbeats([beat(5_000_020, '2.0.0')]);
    expect(await current()).toBe(idOf('2.0.0'));
    await replica().insertHeartbeats([beat(5_000_010, '1.0.0')]); // sent before, stored after
    expect(await current()).toBe(idOf('2.0.0'));
    await replica().insertHeartbeats([beat(5_000_030, '1.0.0')]); // a real roll back, later
    expect(await current()).toBe(idOf('1.0.0'));
    // A seq far ahead (forged, or a device clock set back afterwards) holds the model for a minute at most.
    await replica().insertHeartbeats([beat(Number.MAX_SAFE_INTEGER, '2.0.0')]);
    expect(await current()).toBe(idOf('2.0.0'));
    await replica().insertHeartbeats([beat(5_000_040, '1.0.0')]);
    expect(await current()).toBe(idOf('2.0.0'));
    await ds.query(`UPDATE nodes SET last_heartbeat_seq_at = now() - interval '61 seconds' WHERE id = $1`, [nodeId]);
    await replica().insertHeartbeats([beat(5_000_050, '1.0.0')]);
    expect(await current()).toBe(idOf('1.0.0'));
  });
});
