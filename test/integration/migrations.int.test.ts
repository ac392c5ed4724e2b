import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../apps/control-plane/src/config/config.js';
import { dataSourceOptions } from '../../apps/control-plane/src/database/data-source.js';
import { revertLastMigration, runMigrations } from '../../apps/control-plane/src/database/migrate.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { createTestDatabase } from '../helpers/test-database.js';

describe('migrations (real PostgreSQL)', () => {
  let database: { url: string; drop: () => Promise<void> };
  const open: DataSource[] = [];
  const connect = async () => {
    const ds = await new DataSource(dataSourceOptions({ ...loadConfig({}).database, url: database.url, poolSize: 3 })).initialize();
    open.push(ds);
    return ds;
  };
  const tables = async (ds: DataSource) =>
    ((await ds.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)) as { table_name: string }[]).map(
      (r) => r.table_name,
    );

  beforeEach(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((ds) => ds.destroy()));
    await database.drop();
  });

  it('apply on an empty database', async () => {
    const ds = await connect();
    const applied = await runMigrations(ds);
    expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((M) => new M().name));
    expect(await tables(ds)).toEqual([
      'api_keys',
      'artifacts',
      'attestation_nonces',
      'audit_events',
      'deployment_status_events',
      'deployment_targets',
      'deployments',
      'enrollment_challenges',
      'enrollment_tokens',
      'events',
      'inference_feedback',
      'inference_results',
      'installation_settings',
      'migrations',
      'model_version_hourly_rollups',
      'model_version_rollups',
      'model_versions',
      'models',
      'node_heartbeats',
      'nodes',
      'pending_feedback',
      'rollout_events',
      'rollout_nodes',
      'rollouts',
      'rollup_watermarks',
      'shadow_reports',
      'webhook_deliveries',
      'webhook_dispatch_cursor',
      'webhooks',
    ]);
  });

  it('leave no drift between the entities and the schema (drift test)', async () => {
    const ds = await connect();
    await runMigrations(ds);
    const { upQueries } = await ds.driver.createSchemaBuilder().log();
    expect(upQueries.map((q) => q.query)).toEqual([]);
    // The GIN index is invisible to TypeORM's comparison, so check it by name.
    const indexes = (await ds.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'nodes_labels_gin_idx'`)) as { indexdef: string }[];
    expect(indexes[0]?.indexdef).toContain('USING gin (labels)');
  });

  it('roll back cleanly to an empty schema', async () => {
    const ds = await connect();
    await runMigrations(ds);
    for (let i = 0; i < MIGRATIONS.length; i++) await revertLastMigration(ds);
    expect(await tables(ds)).toEqual(['migrations']);
    const types = (await ds.query(`SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'`)) as unknown[];
    expect(types).toEqual([]);
    // ...and apply again after a full rollback.
    await runMigrations(ds);
    expect(await tables(ds)).toContain('nodes');
  });

  it('apply once when two replicas start together (advisory lock)', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const results = await Promise.all([runMigrations(a), runMigrations(b)]);
    expect(results.map((r) => r.length).sort()).toEqual([0, MIGRATIONS.length]);
    const rows = (await a.query('SELECT name FROM migrations')) as unknown[];
    expect(rows).toHaveLength(MIGRATIONS.length);
  });
});
