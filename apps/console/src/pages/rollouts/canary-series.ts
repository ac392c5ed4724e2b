import type { Schemas } from '#api-client';

type Point = Schemas['RolloutStatsPointDto'];
type Side = Schemas['RolloutSideDto'];

/** One chart's worth: a measure of both sides at each step of the series. */
export interface Comparison {
  readonly title: string;
  readonly canary: (number | null)[];
  readonly control: (number | null)[];
  /** The newest step with a value on either side, for the caption (null: no data yet). */
  readonly latest: { readonly canary: number | null; readonly control: number | null } | null;
}

const MEASURES: { title: string; value: (s: Side) => number | null }[] = [
  { title: 'p99 latency (ms)', value: (s) => s.latencyP99Ms },
  { title: 'Error rate', value: (s) => s.errorRate },
  { title: 'Mean confidence', value: (s) => s.meanConfidence },
  // A step without heartbeats has no inferences to compare: a gap, not a zero dragging the line down.
  { title: 'Inferences per step', value: (s) => (s.nodes > 0 ? s.inferences : null) },
];

/** Steps → x (each step's end, unix seconds) and the measures the health gates compare, canary and control. */
export function comparisons(points: readonly Point[]): { x: number[]; charts: Comparison[] } {
  const x = points.map((p) => Date.parse(p.to) / 1000);
  const charts = MEASURES.map(({ title, value }) => {
    const canary = points.map((p) => value(p.canary));
    const control = points.map((p) => value(p.control));
    let latest: Comparison['latest'] = null;
    for (let i = points.length - 1; i >= 0 && !latest; i--) {
      if (canary[i] != null || control[i] != null) latest = { canary: canary[i] ?? null, control: control[i] ?? null };
    }
    return { title, canary, control, latest };
  });
  return { x, charts };
}

/**
 * The window to chart: the rollout's life so far (from its start, with a minute's margin, in whole minutes),
 * at least the gates' window and at most the API's bound (a day). A rollout not started yet: the gates' window.
 */
export function chartWindowSeconds(startedAt: string | null, gateWindowSeconds: number, now = Date.now()): number {
  const MAX = 86_400;
  if (!startedAt) return Math.min(MAX, gateWindowSeconds);
  const lived = Math.ceil((now - Date.parse(startedAt)) / 60_000 + 1) * 60;
  return Math.min(MAX, Math.max(gateWindowSeconds, lived));
}
