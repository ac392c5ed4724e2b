import { describe, expect, it } from '@jest/globals';
import { chartWindowSeconds, comparisons } from './canary-series.js';

const side = (nodes: number, inferences: number, latencyP99Ms: number | null) => ({ nodes, inferences, errors: 0, errorRate: inferences ? 0 : null, latencyMs: null, latencyP99Ms, results: 0, meanConfidence: null });
const point = (to: string, canary: ReturnType<typeof side>, control: ReturnType<typeof side>) => ({ from: to, to, canary, control });

describe('comparisons (stats series → canary vs control charts)', () => {
  const points = [
    point('2026-12-02T08:00:20.000Z', side(2, 2000, 40), side(2, 2000, 10)),
    point('2026-12-02T08:00:40.000Z', side(0, 0, null), side(0, 0, null)),
    point('2026-12-02T08:01:00.000Z', side(2, 1000, 80), side(0, 0, null)),
  ];
  const { x, charts } = comparisons(points);

  it('puts each step at its end, in unix seconds', () => {
    expect(x).toEqual([Date.parse('2026-12-02T08:00:20Z') / 1000, Date.parse('2026-12-02T08:00:40Z') / 1000, Date.parse('2026-12-02T08:01:00Z') / 1000]);
  });

  it('gives each measure per side, a step without heartbeats as a gap, and the newest values for the caption', () => {
    const latency = charts.find((c) => c.title.startsWith('p99'));
    expect(latency).toMatchObject({ canary: [40, null, 80], control: [10, null, null], latest: { canary: 80, control: null } });
    expect(charts.find((c) => c.title.startsWith('Inferences'))?.canary).toEqual([2000, null, 1000]);
    expect(charts.find((c) => c.title === 'Mean confidence')?.latest).toBeNull();
  });
});

describe('chartWindowSeconds', () => {
  const now = Date.parse('2026-12-02T09:00:00Z');
  it.each([
    [null, 300, 300],
    ['2026-12-02T08:59:30Z', 300, 300],
    ['2026-12-02T08:30:00Z', 300, 31 * 60],
    ['2026-11-01T00:00:00Z', 300, 86_400],
  ])('started %s, gates over %i s → %i s', (startedAt, gate, expected) => expect(chartWindowSeconds(startedAt, gate, now)).toBe(expected));
});
