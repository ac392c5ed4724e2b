import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { fleetTopics } from '#protocol';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { clearRetained } from '../../pipeline/src/retained.js';

/** The retained topics a fresh subscriber to `filter` is handed (ended by a marker of our own). */
async function retainedUnder(brokerUrl: string, filter: string, marker: string): Promise<string[]> {
  const client = await mqtt.connectAsync(brokerUrl, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  const seen: string[] = [];
  const done = new Promise<void>((resolve) => client.on('message', (topic, payload, packet) => (topic === marker ? resolve() : packet.retain && payload.length > 0 && seen.push(topic))));
  await client.subscribeAsync([filter, marker], { qos: 1 });
  await client.publishAsync(marker, 'x', { qos: 1 });
  await done;
  await client.endAsync();
  return seen.sort();
}

describe('clearRetained (the demo leaves nothing on the broker)', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker();
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('clears every retained message of its namespace and none of another', async () => {
    const demo = fleetTopics('edgefleet-demo');
    const other = fleetTopics('someone-else');
    const nodeId = '6f1f0c36-8d55-4c1e-9f55-0b6f5f1f0c36';
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    for (const t of [demo, other]) {
      await client.publishAsync(t.desired(nodeId), '{"desired":1}', { qos: 1, retain: true });
      await client.publishAsync(t.uplink(nodeId, 'presence'), '{"online":false}', { qos: 1, retain: true });
    }
    await client.endAsync();

    expect(await clearRetained(broker.url, demo)).toBe(2);
    expect(await retainedUnder(broker.url, 'ef/v1/#', 'check/1')).toEqual([other.desired(nodeId), other.uplink(nodeId, 'presence')].sort());
    expect(await clearRetained(broker.url, demo)).toBe(0);
  });
});
