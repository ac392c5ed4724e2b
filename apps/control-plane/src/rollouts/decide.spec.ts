import { describe, expect, it } from '@jest/globals';
import { decide, dispatchBudget, failureThresholdCrossed, type TickView } from './decide.js';
import { parseStrategy } from './strategy.js';

const now = new Date('2026-11-28T12:00:00Z');
const view = (over: Omit<Partial<TickView>, 'strategy'> & { strategy?: object } = {}): TickView => ({
  now,
  currentWave: 0,
  waveCount: 3,
  bakeUntil: null,
  overall: { total: 100, succeeded: 0, failed: 0, open: 100 },
  wave: { total: 10, succeeded: 0, failed: 0, open: 10 },
  gate: null,
  dispatchedLastMinute: 0,
  ...over,
  strategy: parseStrategy(over.strategy ?? {}),
});

describe('decide', () => {
  it('dispatches the open nodes of the current wave, within the rate limit', () => {
    expect(decide(view())).toEqual({ kind: 'dispatch', budget: Number.MAX_SAFE_INTEGER });
    expect(decide(view({ strategy: { maxNodesPerMinute: 20 }, dispatchedLastMinute: 15 }))).toEqual({ kind: 'dispatch', budget: 5 });
    expect(decide(view({ strategy: { maxNodesPerMinute: 20 }, dispatchedLastMinute: 25 }))).toEqual({ kind: 'dispatch', budget: 0 });
  });

  it('halts on the failure threshold, even mid-wave', () => {
    const v = view({ strategy: { failureThreshold: { count: 3 } }, overall: { total: 100, succeeded: 2, failed: 3, open: 95 } });
    expect(decide(v)).toEqual({ kind: 'halt', reason: 'failure threshold: 3 nodes failed (max 2)', byNodes: true });
  });

  it('halts on a failed health gate', () => {
    expect(decide(view({ gate: { kind: 'fail', reason: 'latency gate: slow' } }))).toEqual({ kind: 'halt', reason: 'latency gate: slow', byNodes: false });
  });

  it('halts on a failed shadow evaluation, and keeps dispatching (nodes shadow) while it waits or passes', () => {
    const figures = { nodes: 1, samples: 5, agreement: 0.2, meanDivergence: 0.5, meanAbsDiff: 0.3, latencyRatio: 1, errors: 0, skipped: 0, since: now };
    const strategy = { shadow: {} };
    expect(decide(view({ strategy, shadow: { kind: 'fail', reason: 'shadow gate: wrong', figures } }))).toEqual({ kind: 'halt', reason: 'shadow gate: wrong', byNodes: false });
    expect(decide(view({ strategy, shadow: { kind: 'wait', why: 'need samples', figures } })).kind).toBe('dispatch');
    expect(decide(view({ strategy, shadow: { kind: 'pass', figures } })).kind).toBe('dispatch');
  });

  it('halts when a finished wave is below the success threshold', () => {
    const step = decide(view({ strategy: { successThreshold: 90 }, wave: { total: 10, succeeded: 8, failed: 2, open: 0 } }));
    expect(step).toEqual({ kind: 'halt', reason: 'wave 1: 80.0% succeeded, below the 90% threshold', byNodes: true });
  });

  it('bakes a passed wave, waits, then advances', () => {
    const passed = { total: 10, succeeded: 10, failed: 0, open: 0 };
    expect(decide(view({ strategy: { bakeSeconds: 60 }, wave: passed }))).toEqual({ kind: 'bake', until: new Date(now.getTime() + 60_000) });
    expect(decide(view({ strategy: { bakeSeconds: 60 }, wave: passed, bakeUntil: new Date(now.getTime() + 1) }))).toEqual({ kind: 'wait' });
    expect(decide(view({ strategy: { bakeSeconds: 60 }, wave: passed, bakeUntil: now }))).toEqual({ kind: 'advance' });
    expect(decide(view({ wave: passed }))).toEqual({ kind: 'advance' });
  });

  it('advances after the bake with a note when the gates never had enough samples', () => {
    const step = decide(view({ wave: { total: 1, succeeded: 1, failed: 0, open: 0 }, bakeUntil: now, gate: { kind: 'wait', why: 'need 20' } }));
    expect(step).toEqual({ kind: 'advance', note: 'health gates inconclusive: need 20' });
  });

  it('ends as superseded when newer rollouts took every node', () => {
    expect(decide(view({ overall: { total: 0, succeeded: 0, failed: 0, open: 0 }, wave: { total: 0, succeeded: 0, failed: 0, open: 0 } }))).toEqual({ kind: 'superseded' });
  });

  it('completes after the last wave, unless continuous', () => {
    const last = { currentWave: 2, wave: { total: 50, succeeded: 50, failed: 0, open: 0 } };
    expect(decide(view(last))).toEqual({ kind: 'complete' });
    expect(decide(view({ ...last, strategy: { continuous: true } }))).toEqual({ kind: 'wait' });
  });
});

describe('failureThresholdCrossed', () => {
  const counts = (succeeded: number, failed: number) => ({ total: 100, succeeded, failed, open: 100 - succeeded - failed });

  it('waits for the minimum executed before judging a percentage', () => {
    const t = parseStrategy({ failureThreshold: { percent: 20, minExecuted: 10 } }).failureThreshold;
    expect(failureThresholdCrossed(t, counts(1, 2))).toBeNull();
    expect(failureThresholdCrossed(t, counts(7, 2))).toBeNull();
    expect(failureThresholdCrossed(t, counts(8, 2))).toBe('failure threshold: 2 of 10 finished nodes failed (20.0% >= 20%)');
  });

  it('is off without a threshold', () => {
    expect(failureThresholdCrossed(undefined, counts(0, 99))).toBeNull();
  });
});

describe('dispatchBudget', () => {
  it('is unlimited without a rate, and a maintenance window does not hold dispatch back', () => {
    expect(dispatchBudget({ strategy: parseStrategy({}), dispatchedLastMinute: 1e6 })).toBe(Number.MAX_SAFE_INTEGER);
    const windowed = parseStrategy({ maintenanceWindow: { cron: '0 0 1 1 *', durationMinutes: 1 } });
    expect(dispatchBudget({ strategy: windowed, dispatchedLastMinute: 0 })).toBe(Number.MAX_SAFE_INTEGER);
  });
});
