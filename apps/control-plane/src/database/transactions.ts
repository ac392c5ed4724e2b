import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * A transaction (or the pool, outside one) that repositories run their statements on. Services own the
 * transaction boundary but never look inside: they only hand a `Tx` on to repository methods, so only
 * repositories (and this folder) touch TypeORM — a lint rule holds it.
 */
export type Tx = EntityManager;

/** The isolation levels PostgreSQL distinguishes; READ COMMITTED is its (and our) default. */
export type Isolation = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/** Opens transactions for services: `run` commits when `work` resolves and rolls back when it throws. */
@Injectable()
export class Transactions {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  run<T>(work: (tx: Tx) => Promise<T>, isolation?: Isolation): Promise<T> {
    return isolation ? this.db.transaction(isolation, work) : this.db.transaction(work);
  }
}
