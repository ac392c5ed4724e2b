import { randomBytes } from 'node:crypto';
import { createDatabase, dropDatabase } from '../../apps/control-plane/src/database/database-admin.js';

/** A fresh, empty database on the real PostgreSQL for one suite; drop() removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = new URL(process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/ef_test_${randomBytes(6).toString('hex')}`;
  const url = base.toString();
  await createDatabase(url);
  return { url, drop: () => dropDatabase(url) };
}
