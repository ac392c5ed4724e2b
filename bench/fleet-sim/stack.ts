import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { ReplicaProcess } from '../../test/helpers/replica-process.js';
import { startTestBroker, type TestBroker } from '../../test/helpers/test-broker.js';
import { createTestDatabase } from '../../test/helpers/test-database.js';

/** One Mosquitto (with or without dynamic security) and one control-plane process on a fresh database, for a bench. */
export interface BenchStack {
  readonly broker: TestBroker;
  readonly controlPlane: ReplicaProcess;
  readonly adminKey: string;
  readonly databaseUrl: string;
  /** Starts another replica of the same control plane (same database, keys, queue prefix, subscription group). */
  addReplica(): Promise<ReplicaProcess>;
  close(): Promise<void>;
}

/**
 * The control plane runs as its own process (dist/apps/control-plane/src/main.js), so its CPU time and
 * RSS can be read from /proc/<pid> apart from the simulator's. Needs `npm run build` and the services of
 * `scripts/services.sh` (PostgreSQL, Redis) on 127.0.0.1.
 */
export async function startBenchStack(options: { dynsec: boolean; env?: Record<string, string> }): Promise<BenchStack> {
  const cp = { username: 'edgefleet-cp', password: randomBytes(16).toString('hex') };
  const broker = await startTestBroker(options.dynsec ? { dynsec: cp } : {});
  const dynsecEnv: Record<string, string> = options.dynsec ? { MQTT_USERNAME: cp.username, MQTT_PASSWORD: cp.password, MQTT_DYNSEC: 'true' } : {};
  const database = await createTestDatabase();
  const keysDir = await mkdtemp(join(tmpdir(), 'ef-sim-keys-'));
  await new KeyStore(keysDir).init({ rootKeys: 3, rootThreshold: 2, releaseKeys: 2, releaseThreshold: 1, expiresDays: 30 });
  const artifactDir = await mkdtemp(join(tmpdir(), 'ef-sim-artifacts-'));
  const adminKey = `sim-admin-${randomBytes(24).toString('hex')}`;
  const suffix = randomBytes(4).toString('hex');
  const shared = {
    config: {
      database: { url: database.url },
      trust: { keysDir },
      artifacts: { dir: artifactDir },
      rollouts: { queuePrefix: `sim-${suffix}` },
      mqtt: { sharedGroup: `sim-${suffix}` },
    },
  };
  const env = { MIGRATIONS_RUN: 'true', DATABASE_POOL_SIZE: '10', ADMIN_API_KEY: adminKey, ...dynsecEnv, ...options.env };
  const controlPlane = new ReplicaProcess(shared, broker.url, `sim-cp-${suffix}`, env);
  const extra: ReplicaProcess[] = [];
  const addReplica = async () => {
    const replica = new ReplicaProcess(shared, broker.url, `sim-cp-${suffix}-${extra.length + 2}`, { ...env, MIGRATIONS_RUN: 'false' });
    extra.push(replica);
    await replica.start();
    return replica;
  };
  const close = async () => {
    await Promise.all(extra.map((r) => r.stop('SIGTERM')));
    await controlPlane.stop('SIGTERM');
    await broker.stop();
    await database.drop();
    await Promise.all([rm(keysDir, { recursive: true, force: true }), rm(artifactDir, { recursive: true, force: true })]);
  };
  // A control plane that does not come up must not leave it, the broker or the database behind.
  await controlPlane.start().catch(async (error: unknown) => {
    await close().catch(() => undefined);
    throw new Error('the bench control plane did not start', { cause: error });
  });
  return { broker, controlPlane, adminKey, databaseUrl: database.url, addReplica, close };
}
