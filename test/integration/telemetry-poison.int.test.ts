import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { envelopeFields, type MessageOf, type ResultsMessage, type StatusMessage } from '#protocol';
import { verifyInitialRoot } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { seedNodes } from '../helpers/fleet.js';
import { plainHeartbeat, SimulatedNode } from '../helpers/simulated-node.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/** Polls `probe` until `accept` holds (or the time is up) and returns the last value seen. */
async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!accept(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    value = await probe();
  }
  return value;
}

const MAX_LAG_MS = 1500;

describe('telemetry ingest: one node cannot halt it for the fleet', () => {
  let t: TestApp;
  let broker: TestBroker;
  let root: ReturnType<typeof verifyInitialRoot>;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_MAX_LAG_MS: String(MAX_LAG_MS) });
    root = verifyInitialRoot(await new KeyStore(t.config.trust.keysDir).currentRoot(), new Date());
  });
  afterAll(async () => {
    await t?.close();
    await broker?.stop();
  });

  const telemetry = () => t.app.get(TelemetryService);
  const count = async (sql: string, params: unknown[] = []) => Number(((await t.db.query(sql, params)) as { n: string }[])[0]?.n);
  const metric = async (pattern: RegExp) => {
    const text = (await t.http().get('/metrics').expect(200)).text;
    return text.split('\n').filter((l) => pattern.test(l)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };
  const health = async () => {
    const res = await t.http().get('/health');
    return { status: res.status, body: res.body as { status: string; info?: Record<string, unknown>; error?: Record<string, unknown> } };
  };
  const node = (nodeId: string) => new SimulatedNode({ brokerUrl: broker.url, namespace: t.config.mqtt.fleetNamespace, nodeId, root });
  const record = (seq: number) => ({ seq, ts: new Date().toISOString(), modelSha256: 'c'.repeat(64), topClass: seq % 10, confidence: 0.9, latencyMs: 0.5 });

  it('refuses heartbeats the columns cannot hold, with a counted reason and an error event, and stores everyone else', async () => {
    const [badId, ...goodIds] = await seedNodes(t, 4);
    const bad = node(badId!);
    const good = goodIds.map(node);
    await Promise.all([bad, ...good].map((n) => n.connect()));
    const refusedBefore = await metric(/^edgefleet_mqtt_invalid_messages_total\{.*kind="heartbeat".*reason="schema"/);

    // Published raw: our own encoder refuses these now, a broken or hostile device does not use it.
    const poison: Record<string, unknown>[] = [
      { ...bad.heartbeat(1), memMb: 2 ** 31 }, // beyond PostgreSQL `integer`
      { ...bad.heartbeat(2), model: { name: 'digits\u0000', version: '1.0.0', variant: 'fp32', sha256: 'a'.repeat(64) } }, // NUL in text
      { ...bad.heartbeat(3), latencyMs: { p50: 1, p99: 1e39 } }, // beyond `real`
    ];
    for (const message of poison) await bad.publishRaw('heartbeat', JSON.stringify(message));
    for (const n of good) {
      for (let seq = 1; seq <= 5; seq++) await n.publish('heartbeat', n.heartbeat(seq));
      await n.publish('results', { ...envelopeFields(), records: [record(1), record(2)] });
    }

    const stored = await eventually(async () => {
      await telemetry().flush();
      return [
        await count(`SELECT count(*) AS n FROM node_heartbeats WHERE node_id = ANY($1)`, [goodIds]),
        await count(`SELECT count(*) AS n FROM inference_results WHERE node_id = ANY($1)`, [goodIds]),
      ];
    }, ([h, r]) => h === 15 && r === 6);
    expect(stored).toEqual([15, 6]);
    expect(await count(`SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1`, [badId])).toBe(0);
    expect(await eventually(() => metric(/^edgefleet_mqtt_invalid_messages_total\{.*kind="heartbeat".*reason="schema"/), (n) => n - refusedBefore === 3)).toBe(refusedBefore + 3);
    await eventually(async () => bad.errors.length, (n) => n === 3);
    expect(bad.errors.map((e) => e.code)).toEqual(['schema', 'schema', 'schema']);
    expect(bad.errors.map((e) => e.detail).join(' ')).toMatch(/memMb/);
    // Nothing waits to be written: /health says so.
    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.info?.['ingest']).toMatchObject({ status: 'up' });
    await Promise.all([bad, ...good].map((n) => n.disconnect()));
  });

  it('sets aside a row the columns cannot hold that got past the schema, counts it, and writes the rest of its batch', async () => {
    const [poisonId, ...ids] = await seedNodes(t, 3);
    const heartbeat = plainHeartbeat;
    const poisonedBefore = await metric(/^edgefleet_ingest_poison_rows_total\{.*table="node_heartbeats"/);
    const resultsPoisonedBefore = await metric(/^edgefleet_ingest_poison_rows_total\{.*table="inference_results"/);
    const statusesPoisonedBefore = await metric(/^edgefleet_ingest_poison_rows_total\{.*table="deployment_status_events"/);

    // Straight into the service, past the schema (as a future schema gap would let through).
    for (const id of ids) for (let seq = 1; seq <= 20; seq++) telemetry().acceptHeartbeat(id, heartbeat(seq));
    telemetry().acceptHeartbeat(poisonId!, heartbeat(1, { memMb: 2 ** 31 }));
    for (const id of ids) for (let seq = 21; seq <= 40; seq++) telemetry().acceptHeartbeat(id, heartbeat(seq));

    const results = (recordsOf: ResultsMessage['records']): ResultsMessage => ({ ...envelopeFields(), records: recordsOf });
    telemetry().acceptResults(ids[0]!, results([record(1), record(2)]));
    telemetry().acceptResults(poisonId!, results([{ ...record(1), confidence: 1e-50 }])); // underflows `real`
    telemetry().acceptResults(ids[1]!, results([record(1)]));

    // A NUL in text: PostgreSQL refuses the byte (SQLSTATE 22021).
    const status = (seq: number, detail?: string): StatusMessage => ({ ...envelopeFields(), seq, deploymentId: randomUUID(), state: 'received', ...(detail ? { detail } : {}) });
    telemetry().acceptStatus(poisonId!, status(1, 'bad\u0000detail'));

    await telemetry().flush();
    expect(await count(`SELECT count(*) AS n FROM node_heartbeats WHERE node_id = ANY($1)`, [ids])).toBe(80);
    expect(await count(`SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1`, [poisonId])).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM inference_results WHERE node_id = ANY($1)`, [ids])).toBe(3);
    expect(await metric(/^edgefleet_ingest_poison_rows_total\{.*table="node_heartbeats"/)).toBe(poisonedBefore + 1);
    expect(await metric(/^edgefleet_ingest_poison_rows_total\{.*table="inference_results"/)).toBe(resultsPoisonedBefore + 1);
    expect(await metric(/^edgefleet_ingest_poison_rows_total\{.*table="deployment_status_events"/)).toBe(statusesPoisonedBefore + 1);
    // Set aside, not retried: nothing is left to write.
    expect(await metric(/^edgefleet_ingest_queue_depth\{/)).toBe(0);

    // And the writer keeps going for everyone afterwards.
    telemetry().acceptHeartbeat(ids[0]!, heartbeat(41));
    await telemetry().flush();
    expect(await count(`SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1 AND seq = 41`, [ids[0]])).toBe(1);
  });

  it('reports ingest lag in /metrics, and /health says degraded while writes are stuck past INGEST_MAX_LAG_MS', async () => {
    const [nodeId] = await seedNodes(t, 1);
    const sim = node(nodeId!);
    await sim.connect();
    // Another session holds the table: every write waits (a slow or stuck database, seen from ingest).
    const blocker = t.db.createQueryRunner();
    await blocker.connect();
    await blocker.startTransaction();
    try {
      await blocker.query(`LOCK TABLE node_heartbeats IN SHARE MODE`);
      await sim.publish('heartbeat', sim.heartbeat(1) satisfies MessageOf<'heartbeat'>);
      const stuck = await eventually(health, (h) => h.body.status === 'degraded');
      // Degraded, not down: the API still serves; the fleet's data is what is not being stored.
      expect(stuck.status).toBe(200);
      expect(stuck.body.status).toBe('degraded');
      expect(stuck.body.info?.['ingest']).toMatchObject({ status: 'degraded', lagging: ['node_heartbeats'] });
      expect(await metric(/^edgefleet_ingest_lag_seconds\{.*table="node_heartbeats"/)).toBeGreaterThanOrEqual(MAX_LAG_MS / 1000);
      expect(await metric(/^edgefleet_ingest_queue_depth\{.*table="node_heartbeats"/)).toBeGreaterThanOrEqual(1);
    } finally {
      await blocker.commitTransaction();
      await blocker.release();
    }
    const recovered = await eventually(health, (h) => h.body.status === 'ok');
    expect(recovered.body.status).toBe('ok');
    expect(await count(`SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1`, [nodeId])).toBe(1);
    expect(await metric(/^edgefleet_ingest_lag_seconds\{.*table="node_heartbeats"/)).toBe(0);
    await sim.disconnect();
  });
});
