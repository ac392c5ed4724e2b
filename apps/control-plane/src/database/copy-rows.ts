import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DataSource } from 'typeorm';

export type CopyValue = string | number | null;

/** One CSV field: NULL is an unquoted empty field; every string is quoted, so '' stays ''. */
function csvField(value: CopyValue): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  // Most fields (ids, digests, times) hold no quote: skip the regex replace for them.
  return value.includes('"') ? `"${value.replace(/"/g, '""')}"` : `"${value}"`;
}

/** Appended field by field: no per-row array of fields and join (this runs for every ingested row). */
export function toCsv(rows: readonly CopyValue[][]): string {
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) out += i === 0 ? csvField(row[i] ?? null) : `,${csvField(row[i] ?? null)}`;
    out += '\n';
  }
  return out;
}

/**
 * Bulk-loads rows with COPY, the fastest path into PostgreSQL. COPY has no ON CONFLICT: when the batch
 * holds a row already stored (a QoS 1 redelivery), it fails as a whole with a unique violation and
 * `onDuplicate` writes the batch the idempotent way instead. Returns the rows written.
 */
export async function copyRowsOrFallback(
  db: DataSource,
  table: string,
  columns: readonly string[],
  rows: readonly CopyValue[][],
  onDuplicate: () => Promise<number>,
): Promise<number> {
  const runner = db.createQueryRunner();
  try {
    const client = (await runner.connect()) as pg.PoolClient;
    const copy = client.query(copyStreams.from(`COPY ${table} (${columns.join(', ')}) FROM STDIN WITH (FORMAT csv)`));
    await pipeline(Readable.from([toCsv(rows)]), copy);
    return Number(copy.rowCount);
  } catch (error) {
    // COPY errors come straight from the pg client (TypeORM does not wrap them).
    if ((error as { code?: string } | null)?.code !== '23505') throw error;
    return onDuplicate();
  } finally {
    await runner.release();
  }
}
