import type { DataSource } from 'typeorm';

/**
 * One read with PostgreSQL's JIT compilation off and at most 10 s (`SET LOCAL`, so in its own transaction). For the reads
 * that add the heartbeats past the rollup watermark: the planner cannot know the watermark, over-estimates
 * the raw rows and compiles the query, 150–220 ms of a 28 ms stats read (measured). Off per query, not per
 * connection: a startup `options` parameter is refused by connection poolers such as PgBouncer.
 */
export function queryWithoutJit<T>(db: DataSource, sql: string, params: readonly unknown[]): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query('SET LOCAL jit = off');
    // A tail grown large (the rollup job held back) must not hold a pool connection for long.
    await tx.query(`SET LOCAL statement_timeout = '10s'`);
    return (await tx.query(sql, [...params])) as T;
  });
}
