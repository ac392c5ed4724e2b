/** What the retention job prunes; each is deleted by time in batches (retention.repository.ts). */
export const RETENTION_TARGETS = ['events', 'minute-rollups', 'hourly-rollups'] as const;
export type RetentionTarget = (typeof RETENTION_TARGETS)[number];

export interface RetentionDays {
  readonly eventsDays: number;
  readonly minuteRollupsDays: number;
  readonly hourlyRollupsDays: number;
}

const DAY_MS = 86_400_000;

/** Rows older than these instants go. */
export function retentionCutoffs(days: RetentionDays, now: Date): Record<RetentionTarget, Date> {
  const before = (n: number) => new Date(now.getTime() - n * DAY_MS);
  return { events: before(days.eventsDays), 'minute-rollups': before(days.minuteRollupsDays), 'hourly-rollups': before(days.hourlyRollupsDays) };
}

/**
 * Deletes in batches of `batchRows` until a batch comes back short (nothing old is left) or `maxBatches`
 * ran: one run is bounded, and a backlog (a first run on a large table) is worked off over several runs.
 */
export async function pruneInBatches(deleteBatch: (rows: number) => Promise<number>, batchRows: number, maxBatches: number): Promise<number> {
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const n = await deleteBatch(batchRows);
    deleted += n;
    if (n < batchRows) break;
  }
  return deleted;
}
