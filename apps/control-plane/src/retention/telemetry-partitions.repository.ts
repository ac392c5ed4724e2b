import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { parsePartitionName, partitionName, type PartitionRange, TELEMETRY_TABLES, type TelemetryTable } from './partition-plan.js';

/** Where the partitions live (migration 1764750000000): out of `public`, which TypeORM compares to the entities. */
const SCHEMA = 'telemetry_partitions';

/**
 * Creating or dropping a partition takes a lock on the parent table (SHARE UPDATE EXCLUSIVE to attach,
 * ACCESS EXCLUSIVE to drop). Waiting for it behind a long read would queue every ingest statement behind
 * the waiting lock, so the statement gives up after this and the next run tries again.
 */
const LOCK_TIMEOUT = '2s';

export interface NamedPartition extends PartitionRange {
  readonly name: string;
}

const keyOf = (table: TelemetryTable) => TELEMETRY_TABLES.find((t) => t.table === table)?.key ?? 'sent_at';

@Injectable()
export class TelemetryPartitionsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** The table's range partitions (not the default one). */
  async list(table: TelemetryTable): Promise<NamedPartition[]> {
    const rows = (await this.db.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = $1::regclass AND n.nspname = $2`,
      [`public.${table}`, SCHEMA],
    )) as { name: string }[];
    return rows.flatMap(({ name }) => {
      const range = parsePartitionName(table, name);
      return range ? [{ name, ...range }] : [];
    });
  }

  /** Creates the partition (rows of its range the default partition holds move into it); false if it existed. */
  async create(table: TelemetryTable, range: PartitionRange): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      const [row] = (await tx.query(`SELECT ${SCHEMA}.create_partition($1, $2, $3, $4, $5) AS created`, [
        table,
        keyOf(table),
        partitionName(table, range),
        range.from,
        range.to,
      ])) as { created: boolean }[];
      return row?.created === true;
    });
  }

  /** Drops a whole partition: its rows go without a DELETE, its space is returned at once. */
  async drop(partition: NamedPartition): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      await tx.query(`DROP TABLE ${SCHEMA}."${partition.name}"`);
    });
  }

  /**
   * Deletes at most `rows` rows received before `before` from the default partition (rows from nodes with a
   * bad clock, and those the migration moved there): they belong to no range that could be dropped. By
   * arrival, not by the node's time: a row stamped years ago by a node whose clock is behind is kept as long
   * as any other row that arrived with it.
   */
  async deleteFromDefault(table: TelemetryTable, before: Date, rows: number): Promise<number> {
    const [, affected] = (await this.db.query(
      `DELETE FROM ${SCHEMA}."${table}_default" WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${SCHEMA}."${table}_default" WHERE received_at < $1 LIMIT $2))`,
      [before, rows],
    )) as [unknown, number];
    return affected;
  }
}
