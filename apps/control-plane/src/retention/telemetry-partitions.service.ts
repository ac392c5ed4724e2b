import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { isLockTimeout } from '../database/pg-errors.js';
import { partitionsToCreate, partitionsToDrop, TELEMETRY_TABLES, type TelemetryTable } from './partition-plan.js';
import { pruneInBatches } from './retention-plan.js';
import { type NamedPartition, TelemetryPartitionsRepository } from './telemetry-partitions.repository.js';

const DAY_MS = 86_400_000;

/** What a maintenance run needs of its repository (a narrower type than the class: the spec gives a scripted one). */
export type TelemetryPartitionStore = Pick<TelemetryPartitionsRepository, 'list' | 'create' | 'drop' | 'deleteFromDefault'>;

export interface PartitionRun {
  readonly created: string[];
  readonly dropped: string[];
  /** Rows deleted from default partitions (skewed clocks, rows from before partitioning). */
  readonly deletedFromDefault: number;
}

/**
 * Keeps the telemetry tables' partitions: the current period and TELEMETRY_PARTITIONS_AHEAD more exist
 * before rows arrive for them, and partitions wholly older than TELEMETRY_RETENTION_DAYS are dropped.
 * Idempotent (a partition that exists is left, one dropped is gone), so a job BullMQ runs twice is harmless.
 */
@Injectable()
export class TelemetryPartitionsService {
  private readonly logger = new Logger(TelemetryPartitionsService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(TelemetryPartitionsRepository) private readonly repository: TelemetryPartitionStore,
  ) {}

  async maintain(now: Date = new Date()): Promise<PartitionRun> {
    const run = { created: [] as string[], dropped: [] as string[], deletedFromDefault: 0 };
    const cutoff = new Date(now.getTime() - this.config.retention.telemetryDays * DAY_MS);
    for (const { table } of TELEMETRY_TABLES) {
      const existing = await this.repository.list(table);
      run.created.push(...(await this.createAhead(table, existing, now)));
      run.dropped.push(...(await this.dropExpired(partitionsToDrop(existing, cutoff))));
      run.deletedFromDefault += await this.pruneDefault(table, cutoff);
    }
    if (run.created.length + run.dropped.length + run.deletedFromDefault > 0) this.logger.log({ ...run, cutoff }, 'telemetry partitions maintained');
    return run;
  }

  private async createAhead(table: TelemetryTable, existing: readonly NamedPartition[], now: Date): Promise<string[]> {
    const { telemetryPartitionInterval: interval, telemetryPartitionsAhead: ahead } = this.config.retention;
    const created: string[] = [];
    for (const range of partitionsToCreate(existing, now, interval, ahead)) {
      try {
        if (await this.repository.create(table, range)) created.push(`${table} ${range.from.toISOString()}`);
      } catch (error) {
        // Creating takes the default partition's lock: a long reader makes it time out. The other tables
        // and the drops go on; the next run (partitions are made days ahead) tries this one again.
        if (!isLockTimeout(error)) throw error;
        const current = range.from.getTime() <= now.getTime();
        this.logger[current ? 'warn' : 'log']({ table, from: range.from }, current ? 'the current telemetry partition could not be created (lock busy): rows go to the default partition until it is' : 'telemetry partition busy; created at the next run');
      }
    }
    return created;
  }

  private async dropExpired(expired: readonly NamedPartition[]): Promise<string[]> {
    const dropped: string[] = [];
    for (const partition of expired) {
      try {
        await this.repository.drop(partition);
        dropped.push(partition.name);
      } catch (error) {
        // Readers held the table past lock_timeout: expected under load, the next run drops it.
        if (!isLockTimeout(error)) throw error;
        this.logger.log({ partition: partition.name }, 'telemetry partition busy; dropped at the next run');
      }
    }
    return dropped;
  }

  private pruneDefault(table: TelemetryTable, cutoff: Date): Promise<number> {
    const { batchRows, maxBatches } = this.config.retention;
    return pruneInBatches((rows) => this.repository.deleteFromDefault(table, cutoff, rows), batchRows, maxBatches);
  }
}
