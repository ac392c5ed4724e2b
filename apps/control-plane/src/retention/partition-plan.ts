/**
 * Which telemetry partitions to create and which to drop (pure; the SQL is in
 * telemetry-partitions.repository.ts). Partitions are RANGE partitions on the node-stamped time
 * (migration 1764750000000), named `{table}_p{YYYYMMDD}_{YYYYMMDD}` after their UTC bounds.
 */
export const PARTITION_INTERVALS = ['day', 'week'] as const;
export type PartitionInterval = (typeof PARTITION_INTERVALS)[number];

/** Each partitioned table and its partition key. */
export const TELEMETRY_TABLES = [
  { table: 'node_heartbeats', key: 'sent_at' },
  { table: 'inference_results', key: 'at' },
  { table: 'deployment_status_events', key: 'sent_at' },
] as const;
export type TelemetryTable = (typeof TELEMETRY_TABLES)[number]['table'];

/** [from, to): the bounds of one range partition. */
export interface PartitionRange {
  readonly from: Date;
  readonly to: Date;
}

const DAY_MS = 86_400_000;

/** The start (UTC) of the day or ISO week (Monday) holding `at`. */
export function periodStart(at: Date, interval: PartitionInterval): Date {
  const day = Math.floor(at.getTime() / DAY_MS) * DAY_MS;
  if (interval === 'day') return new Date(day);
  const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday = 0
  return new Date(day - weekday * DAY_MS);
}

function nextBoundary(at: Date, interval: PartitionInterval): Date {
  return new Date(periodStart(at, interval).getTime() + (interval === 'day' ? DAY_MS : 7 * DAY_MS));
}

/**
 * The partitions that make the current period and the `ahead` next ones exist. New ranges chain on from
 * the newest existing partition, so a changed interval (day → week) never overlaps what exists: the first
 * new range then runs to the next boundary of the new interval. A gap before the current period (the job
 * did not run for days) is left to the default partition: only the present and the future are created.
 */
export function partitionsToCreate(existing: readonly PartitionRange[], now: Date, interval: PartitionInterval, ahead: number): PartitionRange[] {
  let horizon = periodStart(now, interval);
  for (let i = 0; i <= ahead; i++) horizon = nextBoundary(horizon, interval);
  const newest = Math.max(periodStart(now, interval).getTime(), ...existing.map((r) => r.to.getTime()));
  const out: PartitionRange[] = [];
  for (let from = new Date(newest); from < horizon; ) {
    const to = nextBoundary(from, interval);
    out.push({ from, to });
    from = to;
  }
  return out;
}

/** Partitions whose every row is older than `cutoff`: dropped whole. */
export function partitionsToDrop<R extends PartitionRange>(existing: readonly R[], cutoff: Date): R[] {
  return existing.filter((r) => r.to.getTime() <= cutoff.getTime());
}

const ymd = (d: Date) => d.toISOString().slice(0, 10).replaceAll('-', '');

export function partitionName(table: TelemetryTable, range: PartitionRange): string {
  return `${table}_p${ymd(range.from)}_${ymd(range.to)}`;
}

/** The range a partition's name says, or null for a name this code did not make (the default partition). */
export function parsePartitionName(table: TelemetryTable, name: string): PartitionRange | null {
  const match = /^(\d{4})(\d{2})(\d{2})_(\d{4})(\d{2})(\d{2})$/.exec(name.startsWith(`${table}_p`) ? name.slice(table.length + 2) : '');
  if (!match) return null;
  const [, y1, m1, d1, y2, m2, d2] = match.map(Number) as [number, number, number, number, number, number, number];
  return { from: new Date(Date.UTC(y1, m1 - 1, d1)), to: new Date(Date.UTC(y2, m2 - 1, d2)) };
}
