import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../apps/control-plane/src/config/config.js';
import { dataSourceOptions } from '../../apps/control-plane/src/database/data-source.js';
import { revertLastMigration, runMigrations } from '../../apps/control-plane/src/database/migrate.js';
import { NodeIdentity1764420000000 } from '../../migrations/1764420000000-node-identity.js';
import { createTestDatabase } from '../helpers/test-database.js';

/** Issue 11, hole 3: node keys already written to the audit log (and to names) are scrubbed by the migration. */
describe('node identity migration (real PostgreSQL)', () => {
  let database: { url: string; drop: () => Promise<void> };
  let ds: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase();
    ds = await new DataSource(dataSourceOptions({ ...loadConfig({}).database, url: database.url, poolSize: 2 })).initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await database?.drop();
  });

  const applied = async () => ((await ds.query('SELECT name FROM migrations')) as { name: string }[]).map((r) => r.name);

  it('removes node keys from audit details and replaces names that were the node key', async () => {
    await runMigrations(ds);
    // Back to the schema before this migration (and before any later one).
    while ((await applied()).includes(new NodeIdentity1764420000000().name)) await revertLastMigration(ds);

    const nodeKey = 'node-0123456789abcdef0123456789abcdef';
    const [node] = (await ds.query(`INSERT INTO nodes (node_key, name, hardware) VALUES ($1, $1, '{}') RETURNING id`, [nodeKey])) as { id: string }[];
    const [named] = (await ds.query(`INSERT INTO nodes (node_key, name, hardware) VALUES ('node-other-key-0001', 'cam-1', '{}') RETURNING id`)) as { id: string }[];
    await ds.query(`INSERT INTO audit_events (actor, action, target_type, target_id, details) VALUES ('enrollment-token:x', 'node.enroll', 'node', $1, $2)`, [
      node?.id,
      JSON.stringify({ nodeKey, hardware: { arch: 'arm64' } }),
    ]);

    await runMigrations(ds);

    const audit = (await ds.query(`SELECT details FROM audit_events WHERE target_id = $1`, [node?.id])) as { details: Record<string, unknown> }[];
    expect(audit[0]?.details).toEqual({ hardware: { arch: 'arm64' } });
    const names = (await ds.query(`SELECT id, name FROM nodes ORDER BY name`)) as { id: string; name: string }[];
    expect(names).toEqual(expect.arrayContaining([{ id: named?.id, name: 'cam-1' }, { id: node?.id, name: `node-${node?.id.slice(0, 8)}` }]));
    expect(JSON.stringify(await ds.query('SELECT * FROM audit_events'))).not.toContain(nodeKey);
  });
});
