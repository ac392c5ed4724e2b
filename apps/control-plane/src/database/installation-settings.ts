import { DataSource } from 'typeorm';
import { type AppConfig, ConfigError, withFleetNamespace } from '../config/config.js';
import { dataSourceOptions } from './data-source.js';
import { runMigrations } from './migrate.js';

/**
 * The installation's fleet namespace, as stored in the database. The first boot stores the configured
 * one (FLEET_NAMESPACE, or the default derived from DATABASE_URL); INSERT … ON CONFLICT DO NOTHING makes
 * replicas that boot together agree on whichever came first. Later boots use the stored one, so a
 * DATABASE_URL spelled differently (`localhost` instead of `127.0.0.1`, compose instead of the host)
 * cannot move the topics away from the enrolled nodes. An explicit FLEET_NAMESPACE that disagrees is a
 * configuration error: silently using either one would strand nodes or surprise the operator.
 */
export async function resolveFleetNamespace(dataSource: DataSource, mqtt: AppConfig['mqtt']): Promise<string> {
  // Two statements, not one: the SELECT must see a row that a replica booting at the same time
  // committed while this INSERT waited on it (a new snapshot per statement under READ COMMITTED).
  await dataSource.query(`INSERT INTO installation_settings (singleton, fleet_namespace) VALUES (true, $1) ON CONFLICT (singleton) DO NOTHING`, [mqtt.fleetNamespace]);
  const rows = (await dataSource.query(`SELECT fleet_namespace FROM installation_settings WHERE singleton`)) as { fleet_namespace: string }[];
  const stored = rows[0]?.fleet_namespace;
  if (stored === undefined) throw new Error('installation_settings has no row after inserting one');
  if (mqtt.fleetNamespaceFromEnv && stored !== mqtt.fleetNamespace) {
    throw new ConfigError([
      `FLEET_NAMESPACE: is "${mqtt.fleetNamespace}", but this installation's namespace (stored in its database at the first boot) is "${stored}", ` +
        `and its enrolled nodes listen under ef/v1/${stored}/. Unset FLEET_NAMESPACE (or set it to "${stored}") to keep them; ` +
        `under docker compose, which cannot unset it, set FLEET_NAMESPACE=${stored}. ` +
        `To move the installation to a new namespace on purpose, run UPDATE installation_settings SET fleet_namespace = '<new>' ` +
        `with every replica stopped, then enrol the nodes again.`,
    ]);
  }
  return stored;
}

/**
 * Before the app is built: applies pending migrations (when MIGRATIONS_RUN, under the advisory lock) and
 * returns the config with the installation's stored namespace, which the MQTT connection, topics,
 * enrolment and broker roles are built from.
 */
export async function prepareInstallation(config: AppConfig): Promise<AppConfig> {
  // Two connections: runMigrations holds the advisory lock on one and migrates on the other.
  const dataSource = await new DataSource(dataSourceOptions({ ...config.database, poolSize: 2 })).initialize();
  try {
    if (config.database.runMigrations) await runMigrations(dataSource);
    const namespace = await resolveFleetNamespace(dataSource, config.mqtt).catch((error: unknown) => {
      if (error instanceof ConfigError) throw error;
      throw new Error('could not read the fleet namespace from installation_settings (are migrations applied? npm run migrate)', { cause: error });
    });
    return withFleetNamespace(config, namespace);
  } finally {
    await dataSource.destroy();
  }
}
