import { describe, expect, it } from '@jest/globals';
import { parsePartitionName, partitionName, partitionsToCreate, partitionsToDrop, periodStart, type PartitionRange } from './partition-plan.js';

const at = (iso: string) => new Date(iso);
const range = (from: string, to: string): PartitionRange => ({ from: at(from), to: at(to) });
const iso = (ranges: readonly PartitionRange[]) => ranges.map((r) => [r.from.toISOString().slice(0, 10), r.to.toISOString().slice(0, 10)]);

describe('telemetry partition plan', () => {
  it('creates the current day and the next `ahead` days when none exist', () => {
    expect(iso(partitionsToCreate([], at('2026-12-02T13:00:00Z'), 'day', 2))).toEqual([
      ['2026-12-02', '2026-12-03'],
      ['2026-12-03', '2026-12-04'],
      ['2026-12-04', '2026-12-05'],
    ]);
  });

  it('creates only what is missing after the newest partition', () => {
    const existing = [range('2026-12-02T00:00:00Z', '2026-12-03T00:00:00Z'), range('2026-12-03T00:00:00Z', '2026-12-04T00:00:00Z')];
    expect(iso(partitionsToCreate(existing, at('2026-12-02T23:59:59Z'), 'day', 2))).toEqual([['2026-12-04', '2026-12-05']]);
    expect(partitionsToCreate(existing, at('2026-12-02T00:00:00Z'), 'day', 1)).toEqual([]);
  });

  it('leaves a gap of missed days to the default partition: only the present and the future are created', () => {
    const existing = [range('2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z')];
    expect(iso(partitionsToCreate(existing, at('2026-12-02T08:00:00Z'), 'day', 1))).toEqual([
      ['2026-12-02', '2026-12-03'],
      ['2026-12-03', '2026-12-04'],
    ]);
  });

  it('weeks start on Monday (UTC), and a switch from days to weeks chains on without overlap', () => {
    expect(periodStart(at('2026-12-02T13:00:00Z'), 'week').toISOString()).toBe('2026-11-30T00:00:00.000Z');
    const days = [range('2026-12-02T00:00:00Z', '2026-12-03T00:00:00Z'), range('2026-12-03T00:00:00Z', '2026-12-04T00:00:00Z')];
    expect(iso(partitionsToCreate(days, at('2026-12-02T13:00:00Z'), 'week', 1))).toEqual([
      ['2026-12-04', '2026-12-07'],
      ['2026-12-07', '2026-12-14'],
    ]);
  });

  it('drops a partition only when all of it is older than the cutoff', () => {
    const existing = [range('2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z'), range('2026-11-02T00:00:00Z', '2026-11-03T00:00:00Z')];
    expect(iso(partitionsToDrop(existing, at('2026-11-02T12:00:00Z')))).toEqual([['2026-11-01', '2026-11-02']]);
    expect(partitionsToDrop(existing, at('2026-11-01T23:59:59Z'))).toEqual([]);
  });

  it('names a partition after its bounds and reads the bounds back; other names (the default) are not ranges', () => {
    const r = range('2026-12-02T00:00:00Z', '2026-12-03T00:00:00Z');
    expect(partitionName('node_heartbeats', r)).toBe('node_heartbeats_p20261202_20261203');
    expect(parsePartitionName('node_heartbeats', 'node_heartbeats_p20261202_20261203')).toEqual(r);
    expect(parsePartitionName('node_heartbeats', 'node_heartbeats_default')).toBeNull();
    expect(parsePartitionName('inference_results', 'node_heartbeats_p20261202_20261203')).toBeNull();
  });
});
