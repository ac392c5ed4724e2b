import type { NestExpressApplication } from '@nestjs/platform-express';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../../apps/control-plane/src/app.factory.js';
import { APP_CONFIG, type AppConfig, loadConfig } from '../../apps/control-plane/src/config/config.js';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { createTestDatabase } from './test-database.js';

export interface TestApp {
  readonly app: NestExpressApplication;
  readonly config: AppConfig;
  readonly adminKey: string;
  readonly db: DataSource;
  /** http://127.0.0.1:<port>, for real clients (agents) */
  readonly url: string;
  /** supertest bound to the app's HTTP server */
  http(): ReturnType<typeof request>;
  close(): Promise<void>;
}

/**
 * Boots the real control plane on a fresh database (migrations applied at boot) against the real
 * Redis and Mosquitto, with its own artifact directory and bootstrap admin key.
 */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  // A replica of another test app passes that app's DATABASE_URL (and KEYS_DIR, MQTT_SHARED_GROUP).
  const database = env['DATABASE_URL'] ? { url: env['DATABASE_URL'], drop: async () => undefined } : await createTestDatabase();
  const artifactDir = await mkdtemp(join(tmpdir(), 'ef-artifacts-'));
  const keysDir = env['KEYS_DIR'] ?? (await createKeysDir());
  const adminKey = `test-admin-${randomBytes(24).toString('hex')}`;
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: '5',
    ARTIFACT_DIR: artifactDir,
    KEYS_DIR: keysDir,
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    // Suites run in parallel on one broker: each app gets its own shared-subscription group.
    MQTT_SHARED_GROUP: `test-${randomBytes(4).toString('hex')}`,
    MQTT_CLIENT_ID: `test-cp-${randomBytes(6).toString('hex')}`,
    MQTT_SESSION_EXPIRY_SECONDS: '60',
    // ... and its own BullMQ keys, so rollout jobs of parallel suites never meet.
    QUEUE_PREFIX: `test-${randomBytes(4).toString('hex')}`,
    ROLLOUT_TICK_MS: '200',
    ROLLOUT_JOB_LOCK_MS: '3000',
    ...env,
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  // The config the app runs with: its fleet namespace is the one stored in the database.
  const resolved = app.get<AppConfig>(APP_CONFIG);
  const address = app.getHttpServer().address() as { port: number };
  const db = app.get(DataSource);
  return {
    app,
    config: resolved,
    adminKey,
    db,
    url: `http://127.0.0.1:${address.port}`,
    http: () => request(app.getHttpServer()),
    close: async () => {
      await app.close();
      await database.drop();
      await rm(artifactDir, { recursive: true, force: true });
      if (!env['KEYS_DIR']) await rm(keysDir, { recursive: true, force: true });
    },
  };
}

/** Operator keys for a test: 2-of-3 root, 1-of-2 release, in a fresh directory. */
export async function createKeysDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ef-keys-'));
  await new KeyStore(dir).init({ rootKeys: 3, rootThreshold: 2, releaseKeys: 2, releaseThreshold: 1, expiresDays: 30 });
  return dir;
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** Creates an API key with the given role through the API and returns the key. */
export async function createApiKey(t: TestApp, role: 'viewer' | 'operator' | 'admin'): Promise<string> {
  const res = await t.http().post('/v1/api-keys').set(bearer(t.adminKey)).send({ name: `${role}-key`, role }).expect(201);
  return (res.body as { key: string }).key;
}

export const hardware = {
  arch: 'arm64',
  cpuCores: 4,
  ramMb: 4096,
  freeDiskMb: 20_000,
  engines: ['onnxruntime'],
  accelerators: [],
};

export async function createEnrollmentToken(t: TestApp, body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const res = await t
    .http()
    .post('/v1/enrollment-tokens')
    .set(bearer(t.adminKey))
    .send({ name: 'test', expiresInSeconds: 3600, maxUses: 10, ...body })
    .expect(201);
  return res.body as { id: string; token: string };
}
