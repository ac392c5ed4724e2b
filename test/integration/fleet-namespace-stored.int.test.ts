import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../apps/control-plane/src/config/config.js';
import { startTestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { createTestDatabase } from '../helpers/test-database.js';

/**
 * The namespace is the installation's, not the spelling of DATABASE_URL: the first boot stores it in the
 * database and every later boot uses it, so rewriting the URL (or switching between compose and the host)
 * cannot silently move the topics away from the enrolled nodes.
 */
describe('fleet namespace stored in the database', () => {
  let broker: TestBroker;
  let database: { url: string; drop: () => Promise<void> };
  /** The same database, spelled the other way (`127.0.0.1` ⇄ `localhost`). */
  let respelled: string;

  beforeAll(async () => {
    broker = await startTestBroker();
    database = await createTestDatabase();
    const url = new URL(database.url);
    url.hostname = url.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
    respelled = url.toString();
  });
  afterAll(async () => {
    await database.drop();
    await broker.stop();
  });

  const boot = async (databaseUrl: string, env: Record<string, string> = {}) => {
    const t = await startTestApp({ MQTT_URL: broker.url, DATABASE_URL: databaseUrl, ...env });
    const namespace = t.config.mqtt.fleetNamespace;
    await t.close();
    return namespace;
  };

  it('resolves the same namespace when DATABASE_URL is spelled differently on a later boot', async () => {
    const first = await boot(database.url);
    const second = await boot(respelled);
    expect(second).toBe(first);
    // Concurrent replicas booting with either spelling agree as well.
    expect(await Promise.all([boot(database.url), boot(respelled)])).toEqual([first, first]);
  });

  it('refuses to start when FLEET_NAMESPACE contradicts the stored namespace, saying how to proceed', async () => {
    const stored = await boot(database.url);
    const refusal = startTestApp({ MQTT_URL: broker.url, DATABASE_URL: respelled, FLEET_NAMESPACE: `${stored}-other` });
    await expect(refusal).rejects.toBeInstanceOf(ConfigError);
    await expect(refusal).rejects.toThrow(`Unset FLEET_NAMESPACE (or set it to "${stored}")`);
    await expect(refusal).rejects.toThrow(`under docker compose, which cannot unset it, set FLEET_NAMESPACE=${stored}`);
    // Agreeing with the stored namespace is fine.
    expect(await boot(respelled, { FLEET_NAMESPACE: stored })).toBe(stored);
  });
});
