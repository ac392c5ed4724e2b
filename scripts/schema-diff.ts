/**
 * Prints the SQL that would bring a migrated database in line with the entities: the starting point
 * for a new migration (review it, then write it into migrations/ by hand). Uses a throwaway database.
 *   npm run build && node dist/scripts/schema-diff.js
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { loadConfig } from '../apps/control-plane/src/config/config.js';
import { dataSourceOptions } from '../apps/control-plane/src/database/data-source.js';
import { runMigrations } from '../apps/control-plane/src/database/migrate.js';
import { createDatabase, dropDatabase } from '../apps/control-plane/src/database/database-admin.js';

const config = loadConfig(process.env);
const url = new URL(config.database.url);
url.pathname = `/ef_schema_diff_${randomBytes(4).toString('hex')}`;
await createDatabase(url.toString());
const ds = new DataSource(dataSourceOptions({ ...config.database, url: url.toString() }));
try {
  await ds.initialize();
  await runMigrations(ds);
  const { upQueries, downQueries } = await ds.driver.createSchemaBuilder().log();
  console.log('-- up');
  for (const q of upQueries) console.log(`${q.query};`);
  console.log('-- down');
  for (const q of downQueries.reverse()) console.log(`${q.query};`);
} finally {
  await ds.destroy();
  await dropDatabase(url.toString());
}
