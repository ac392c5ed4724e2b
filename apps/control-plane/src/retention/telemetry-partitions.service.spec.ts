import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../config/config.js';
import type { PartitionRange, TelemetryTable } from './partition-plan.js';
import { type TelemetryPartitionStore, TelemetryPartitionsService } from './telemetry-partitions.service.js';
import type { NamedPartition } from './telemetry-partitions.repository.js';

const lockTimeout = Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' });
const config = loadConfig({ TELEMETRY_RETENTION_DAYS: '30', TELEMETRY_PARTITION_INTERVAL: 'day', TELEMETRY_PARTITIONS_AHEAD: '2', RETENTION_BATCH_ROWS: '100', RETENTION_MAX_BATCHES: '1' });
const OLD: NamedPartition = { name: 'old', from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-10-02T00:00:00Z') };

/** A repository where one table's default partition is held by a long reader: creating there times out. */
function repository(busy: TelemetryTable) {
  const created: string[] = [];
  const dropped: string[] = [];
  const repo: TelemetryPartitionStore = {
    list: async () => [OLD],
    create: async (table: TelemetryTable, range: PartitionRange) => {
      if (table === busy) throw lockTimeout;
      created.push(`${table} ${range.from.toISOString()}`);
      return true;
    },
    drop: async (p: NamedPartition) => void dropped.push(p.name),
    deleteFromDefault: async () => 0,
  };
  return { repo, created, dropped };
}

describe('TelemetryPartitionsService', () => {
  it('goes on with the other tables and the drops when creating one table\'s partition times out on its lock', async () => {
    const { repo, created, dropped } = repository('node_heartbeats');
    const run = await new TelemetryPartitionsService(config, repo).maintain(new Date('2026-12-02T12:00:00Z'));
    expect(created.some((c) => c.startsWith('inference_results'))).toBe(true);
    expect(created.some((c) => c.startsWith('deployment_status_events'))).toBe(true);
    expect(created.some((c) => c.startsWith('node_heartbeats'))).toBe(false);
    expect(dropped).toHaveLength(3);
    expect(run.dropped).toHaveLength(3);
  });

  it('still fails on any other error', async () => {
    const repo: TelemetryPartitionStore = { list: async () => [], create: async () => Promise.reject(new Error('disk full')), drop: async () => undefined, deleteFromDefault: async () => 0 };
    await expect(new TelemetryPartitionsService(config, repo).maintain()).rejects.toThrow('disk full');
  });
});
