/**
 * Artifact chunk fan-out to many subscribers vs a raw broadcast of the same bytes on the same broker,
 * measured in one run (alternating rounds, best of each). Both go to a Mosquitto started from the repo's
 * configuration; the time is from the first publish until every subscriber holds every chunk.
 *   npm run bench:build && node dist/bench/chunk-fanout.js [subscribers=1000] [sizeKiB=1024] [rounds=3]
 * Goal: EdgeFleet / raw <= 1.5.
 */
import 'reflect-metadata';
import mqtt, { type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Registry } from 'prom-client';
import type { DeploymentsRepository } from '../apps/control-plane/src/deployments/deployments.repository.js';
import { chunkCount, encodeChunk, fleetTopics } from '../libs/protocol/src/index.js';
import { FsArtifactStore } from '../apps/control-plane/src/artifacts/fs-artifact-store.js';
import { loadConfig } from '../apps/control-plane/src/config/config.js';
import { DistributionService } from '../apps/control-plane/src/deployments/distribution.service.js';
import { MessagingMetrics } from '../apps/control-plane/src/messaging/messaging.metrics.js';
import { MqttConnection } from '../apps/control-plane/src/messaging/mqtt-connection.js';
import { startTestBroker } from '../test/helpers/test-broker.js';

const SUBSCRIBERS = Number(process.argv[2] ?? 1000);
const SIZE = Number(process.argv[3] ?? 1024) * 1024;
const ROUNDS = Number(process.argv[4] ?? 3);
const CHUNK = 128 * 1024;
const CHUNKS = chunkCount(SIZE, CHUNK);

const broker = await startTestBroker();
const dir = await mkdtemp(join(tmpdir(), 'ef-fanout-'));
const subscribers: MqttClient[] = [];
try {
  const store = new FsArtifactStore(dir);
  const blob = await store.ingest(Readable.from([randomBytes(SIZE)]), SIZE);
  await store.commit(blob);
  const layout = { sha256: blob.sha256, size: SIZE, chunkSize: CHUNK };

  // Each subscriber counts chunks per round on both the artifact topic and the raw topic.
  let received = 0;
  let done: () => void = () => undefined;
  const expected = SUBSCRIBERS * CHUNKS;
  const config = loadConfig({ MQTT_URL: broker.url });
  const artifactChunks = fleetTopics(config.mqtt.fleetNamespace).allArtifactChunks;
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `fanout-${i}`, reconnectPeriod: 0 });
    client.on('message', () => {
      if (++received === expected) done();
    });
    await client.subscribeAsync([artifactChunks, 'raw/chunks/+'], { qos: 1 });
    subscribers.push(client);
  }

  const connection = new MqttConnection(config);
  await connection.ready();
  // broadcast() reads the store and publishes; it never touches the database.
  const distribution = new DistributionService(undefined as unknown as DeploymentsRepository, store, connection, new MessagingMetrics(new Registry()));
  const rawPublisher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'fanout-raw', reconnectPeriod: 0 });
  const payloads = Array.from({ length: CHUNKS }, (_, i) => encodeChunk({ index: i, count: CHUNKS, data: Buffer.alloc(Math.min(CHUNK, SIZE - i * CHUNK), i) }));

  const round = async (publish: () => Promise<unknown>) => {
    received = 0;
    const all = new Promise<void>((resolve) => (done = resolve));
    const start = process.hrtime.bigint();
    await publish();
    await all;
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  let rawS = Infinity;
  let oursS = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    rawS = Math.min(rawS, await round(() => Promise.all(payloads.map((p, i) => rawPublisher.publishAsync(`raw/chunks/${i}`, p, { qos: 1 })))));
    oursS = Math.min(oursS, await round(() => distribution.broadcast(layout)));
  }
  const mb = (SUBSCRIBERS * SIZE) / 1e6;
  console.log(`${SUBSCRIBERS} subscribers x ${SIZE / 1024} KiB (${CHUNKS} chunks), best of ${ROUNDS}`);
  console.log(`raw broadcast        ${rawS.toFixed(3)} s  (${(mb / rawS).toFixed(0)} MB/s delivered)`);
  console.log(`edgefleet broadcast  ${oursS.toFixed(3)} s  (${(mb / oursS).toFixed(0)} MB/s delivered)`);
  console.log(`ratio edgefleet/raw  ${(oursS / rawS).toFixed(2)}  (goal <= 1.5)`);
  await rawPublisher.endAsync();
  await connection.onApplicationShutdown();
} finally {
  await Promise.all(subscribers.map((c) => c.endAsync(true)));
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
}
