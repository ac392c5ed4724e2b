/**
 * Applies or reverts migrations outside the server: `migrate.js up` | `migrate.js down` (the last one).
 * The server also applies pending migrations at boot (MIGRATIONS_RUN=true), under the same advisory lock.
 */
import 'reflect-metadata';
import { loadConfig } from '../config/config.js';
import { createDatabase } from '../database/database-admin.js';
import { openDataSource } from '../database/data-source.js';
import { revertLastMigration, runMigrations } from '../database/migrate.js';

const command = process.argv[2] ?? 'up';
if (command !== 'up' && command !== 'down') {
  console.error('usage: migrate.js up|down');
  process.exit(64);
}
const config = loadConfig(process.env);
if (command === 'up' && (await createDatabase(config.database.url, { ifMissing: true }))) {
  console.log('created database', new URL(config.database.url).pathname.slice(1));
}
const dataSource = await openDataSource(config.database);
try {
  if (command === 'up') {
    const applied = await runMigrations(dataSource);
    console.log(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'schema is up to date');
  } else {
    await revertLastMigration(dataSource);
    console.log('reverted the last migration');
  }
} finally {
  await dataSource.destroy();
}
