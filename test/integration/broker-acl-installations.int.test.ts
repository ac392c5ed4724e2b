import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { randomBytes } from 'node:crypto';
import { fleetTopics } from '#protocol';
import { MqttConnection } from '../../apps/control-plane/src/messaging/mqtt-connection.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/**
 * Two installations, each with its own broker account, on one Mosquitto with dynamic security: each
 * control plane may publish under its own namespace only (its role is its namespace's, not a role every
 * installation adds its namespace to).
 */
describe('two installations on one dynsec broker', () => {
  let broker: TestBroker;
  const installations: TestApp[] = [];
  const admin = { username: 'edgefleet-cp', password: randomBytes(16).toString('hex') };
  const second = { username: 'edgefleet-cp-two', password: randomBytes(16).toString('hex') };

  beforeAll(async () => {
    broker = await startTestBroker({ dynsec: admin });
    // The second installation's account: another admin of the plugin, as an operator would create it.
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, username: admin.username, password: admin.password, reconnectPeriod: 0 });
    await client.subscribeAsync('$CONTROL/dynamic-security/v1/response', { qos: 1 });
    const answered = new Promise<string>((resolve) => client.once('message', (_topic, payload) => resolve(payload.toString())));
    await client.publishAsync('$CONTROL/dynamic-security/v1', JSON.stringify({ commands: [{ command: 'createClient', ...second, roles: [{ rolename: 'admin' }] }] }), { qos: 1 });
    expect(await answered).not.toContain('"error"');
    await client.endAsync();

    for (const account of [admin, second]) {
      installations.push(await startTestApp({ MQTT_URL: broker.url, MQTT_USERNAME: account.username, MQTT_PASSWORD: account.password, MQTT_DYNSEC: 'true' }));
    }
  }, 60_000);
  afterAll(async () => {
    for (const t of installations) await t.close();
    await broker.stop();
  });

  it('lets each control plane publish under its own namespace and refuses it the other’s', async () => {
    const [one, two] = installations;
    if (!one || !two) throw new Error('installations did not start');
    expect(one.config.mqtt.fleetNamespace).not.toBe(two.config.mqtt.fleetNamespace);
    for (const [self, other] of [[one, two], [two, one]] as const) {
      const connection = self.app.get(MqttConnection);
      const foreign = fleetTopics(other.config.mqtt.fleetNamespace);
      await connection.publish(connection.topics.errors('some-node'), 'own', { qos: 1 });
      await expect(connection.publish(foreign.errors('some-node'), 'foreign', { qos: 1 })).rejects.toThrow('Not authorized');
      await expect(connection.publish(foreign.desired('some-node'), 'foreign', { qos: 1 })).rejects.toThrow('Not authorized');
    }
  });
});
