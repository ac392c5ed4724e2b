import { startTestBroker, type TestBroker } from './test-broker.js';
import { createApiKey, startTestApp, type TestApp } from './test-app.js';

export interface TwoReplicas {
  readonly broker: TestBroker;
  /** The first replica; `b` shares its database, keys, Redis queue prefix and broker group. */
  readonly a: TestApp;
  readonly b: TestApp;
  readonly viewerKey: string;
}

/** A broker and two control-plane replicas in this process on one database, as events and webhooks tests need. */
export async function startTwoReplicas(env: Record<string, string>): Promise<TwoReplicas> {
  const broker = await startTestBroker();
  const a = await startTestApp({ MQTT_URL: broker.url, ...env });
  const b = await startTestApp({
    MQTT_URL: broker.url,
    DATABASE_URL: a.config.database.url,
    KEYS_DIR: a.config.trust.keysDir,
    MQTT_SHARED_GROUP: a.config.mqtt.sharedGroup,
    QUEUE_PREFIX: a.config.rollouts.queuePrefix,
    ...env,
  });
  return { broker, a, b, viewerKey: await createApiKey(a, 'viewer') };
}

export async function stopTwoReplicas(r: Partial<Pick<TwoReplicas, 'broker' | 'a' | 'b'>>): Promise<void> {
  await r.b?.close();
  await r.a?.close();
  await r.broker?.stop();
}
