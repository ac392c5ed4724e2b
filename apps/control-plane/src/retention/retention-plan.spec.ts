import { describe, expect, it } from '@jest/globals';
import { pruneInBatches, retentionCutoffs } from './retention-plan.js';

/** A table of `rows` old rows that a batch deletes from, recording each batch's size. */
function table(rows: number) {
  let left = rows;
  const batches: number[] = [];
  const deleteBatch = async (limit: number) => {
    const n = Math.min(limit, left);
    left -= n;
    batches.push(n);
    return n;
  };
  return { deleteBatch, batches, left: () => left };
}

describe('retention', () => {
  it('deletes in batches until one comes back short', async () => {
    const t = table(17);
    expect(await pruneInBatches(t.deleteBatch, 7, 100)).toBe(17);
    expect(t.batches).toEqual([7, 7, 3]);
  });

  it('asks once more when the old rows are an exact multiple of the batch, and stops at the empty batch', async () => {
    const t = table(14);
    expect(await pruneInBatches(t.deleteBatch, 7, 100)).toBe(14);
    expect(t.batches).toEqual([7, 7, 0]);
  });

  it('stops after maxBatches, leaving the rest for the next run', async () => {
    const t = table(30);
    expect(await pruneInBatches(t.deleteBatch, 7, 2)).toBe(14);
    expect({ batches: t.batches, left: t.left() }).toEqual({ batches: [7, 7], left: 16 });
  });

  it('cuts each target at its own number of days before now', () => {
    const now = new Date('2026-12-02T00:00:00Z');
    expect(retentionCutoffs({ eventsDays: 90, minuteRollupsDays: 14, hourlyRollupsDays: 400 }, now)).toEqual({
      events: new Date('2026-09-03T00:00:00Z'),
      'minute-rollups': new Date('2026-11-18T00:00:00Z'),
      'hourly-rollups': new Date('2025-10-28T00:00:00Z'),
    });
  });
});
