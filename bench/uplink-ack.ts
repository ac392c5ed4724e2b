/**
 * Node messages into the control plane: `MqttConnection` (one message at a time, PUBACK only once the
 * listener has taken it) vs a plain mqtt.js client that PUBACKs on receipt, on the same broker in one
 * run (alternating rounds, best of each). Both parse every heartbeat with libs/protocol; ours also goes
 * through an async listener as the gateway's does. Time: from the first publish until the last message
 * is taken.
 *   npm run bench:build && node dist/bench/uplink-ack.js [messages=20000] [rounds=3]
 * Goal: ours / plain <= 1.5 in time.
 */
import 'reflect-metadata';
import mqtt from 'mqtt';
import { randomUUID } from 'node:crypto';
import { encodeMessage, envelopeFields, fleetTopics, parseMessage } from '../libs/protocol/src/index.js';
import { loadConfig } from '../apps/control-plane/src/config/config.js';
import { MqttConnection } from '../apps/control-plane/src/messaging/mqtt-connection.js';
import { startTestBroker } from '../test/helpers/test-broker.js';

const MESSAGES = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const NODES = 100;

const broker = await startTestBroker();
try {
  const namespace = `bench-${randomUUID().slice(0, 8)}`;
  const topics = fleetTopics(namespace);
  const filter = topics.uplink('+', 'heartbeat');
  const nodeIds = Array.from({ length: NODES }, () => randomUUID());
  const payloads = Array.from({ length: MESSAGES }, (_, i) => ({
    topic: topics.uplink(nodeIds[i % NODES] as string, 'heartbeat'),
    payload: encodeMessage('heartbeat', { ...envelopeFields(), seq: i + 1, model: null, uptimeS: i, cpu: 0.1, memMb: 64, freeDiskMb: 1000, inferences: 0, errors: 0, latencyMs: null }),
  }));
  const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'uplink-publisher', reconnectPeriod: 0 });
  const PROBE = topics.uplink('probe', 'heartbeat');

  /** What a receiver has taken: the probe (its subscription is live) and then every message. */
  const receiver = () => {
    let taken = 0;
    let probed = false;
    let all: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (all = resolve));
    const take = (topic: string, payload: Buffer) => {
      if (topic === PROBE) probed = true;
      else if (parseMessage('heartbeat', payload).ok && ++taken === MESSAGES) all();
    };
    return { take, done, probed: () => probed };
  };

  /** Publishes a probe until the receiver has it (bounded), then every message; resolves when all are taken. */
  const round = async (r: ReturnType<typeof receiver>) => {
    for (let i = 0; !r.probed(); i++) {
      if (i > 500) throw new Error('the receiver never got the probe');
      await publisher.publishAsync(PROBE, 'probe', { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const start = process.hrtime.bigint();
    await Promise.all([...payloads.map((p) => publisher.publishAsync(p.topic, p.payload, { qos: 1 })), r.done]);
    return Number(process.hrtime.bigint() - start) / 1e9;
  };

  const plain = async (n: number) => {
    const r = receiver();
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `uplink-plain-${n}`, reconnectPeriod: 0 });
    client.on('message', r.take);
    await client.subscribeAsync(filter, { qos: 1 });
    const s = await round(r);
    await client.endAsync();
    return s;
  };

  const ours = async (n: number) => {
    const r = receiver();
    const connection = new MqttConnection(loadConfig({ MQTT_URL: broker.url, MQTT_CLIENT_ID: `uplink-ours-${n}`, FLEET_NAMESPACE: namespace }));
    connection.onMessage(async (topic, payload) => {
      r.take(topic, payload);
      await Promise.resolve(); // the gateway's listener is async (its node lookup is a cache hit)
    });
    connection.onModuleInit();
    connection.keepSubscribed([filter]);
    await connection.ready();
    const s = await round(r);
    await connection.onModuleDestroy();
    await connection.onApplicationShutdown();
    return s;
  };

  let plainS = Infinity;
  let oursS = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    plainS = Math.min(plainS, await plain(r));
    oursS = Math.min(oursS, await ours(r));
  }
  console.log(`${MESSAGES} heartbeats (QoS 1) from ${NODES} nodes, best of ${ROUNDS}`);
  console.log(`plain mqtt.js, PUBACK on receipt      ${plainS.toFixed(3)} s  (${Math.round(MESSAGES / plainS)} msg/s)`);
  console.log(`MqttConnection, PUBACK after listener ${oursS.toFixed(3)} s  (${Math.round(MESSAGES / oursS)} msg/s)`);
  console.log(`ratio ours/plain (time)               ${(oursS / plainS).toFixed(2)}  (goal <= 1.5)`);
  await publisher.endAsync();
} finally {
  await broker.stop();
}
