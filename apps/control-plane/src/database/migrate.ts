import type { DataSource, Migration } from 'typeorm';

/** Arbitrary but fixed: every replica of every version takes the same lock. */
const MIGRATION_LOCK_KEY = 7_322_461_019;

/**
 * Runs pending migrations while holding a PostgreSQL session advisory lock, so replicas that boot
 * together apply each migration once: the others wait, then find nothing pending.
 */
export async function runMigrations(dataSource: DataSource): Promise<Migration[]> {
  return withMigrationLock(dataSource, () => dataSource.runMigrations({ transaction: 'each' }));
}

/** Reverts the last applied migration, under the same lock. */
export async function revertLastMigration(dataSource: DataSource): Promise<void> {
  await withMigrationLock(dataSource, () => dataSource.undoLastMigration({ transaction: 'each' }));
}

async function withMigrationLock<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await work();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
