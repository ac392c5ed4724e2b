import { describe, expect, it } from '@jest/globals';
import { judgeGates, type SideStats } from './health-gate.js';
import { parseStrategy } from './strategy.js';

const side = (over: Partial<SideStats> = {}): SideStats => ({ nodes: 5, inferences: 1000, errors: 0, latencyP99Ms: 10, latencyMs: null, meanConfidence: 0.9, results: 1000, ...over });
const gates = (g: object) => parseStrategy({ healthGates: g }).healthGates!;

describe('judgeGates', () => {
  it('fails the latency gate when the canary is slower than allowed', () => {
    const v = judgeGates(gates({ maxLatencyP99Ratio: 2 }), side({ latencyP99Ms: 50 }), side());
    expect(v).toEqual({ kind: 'fail', reason: 'latency gate: canary p99 50.00 ms is 5.00× control 10.00 ms (max 2×)' });
    expect(judgeGates(gates({ maxLatencyP99Ratio: 2 }), side({ latencyP99Ms: 19 }), side())).toEqual({ kind: 'pass' });
  });

  it('fails the error-rate gate on an increase above the limit', () => {
    expect(judgeGates(gates({ maxErrorRateIncrease: 0.01 }), side({ errors: 30 }), side({ errors: 5 })).kind).toBe('fail');
    expect(judgeGates(gates({ maxErrorRateIncrease: 0.01 }), side({ errors: 12 }), side({ errors: 5 })).kind).toBe('pass');
  });

  it('fails the confidence gate on a drop above the limit', () => {
    expect(judgeGates(gates({ maxConfidenceDrop: 0.05 }), side({ meanConfidence: 0.8 }), side()).kind).toBe('fail');
    expect(judgeGates(gates({ maxConfidenceDrop: 0.05 }), side({ meanConfidence: 0.88 }), side()).kind).toBe('pass');
  });

  it('waits for enough samples on both sides', () => {
    expect(judgeGates(gates({ maxLatencyP99Ratio: 2, minSamples: 50 }), side({ inferences: 10, latencyP99Ms: 100 }), side()).kind).toBe('wait');
    expect(judgeGates(gates({ maxConfidenceDrop: 0.1, minSamples: 50 }), side({ results: 3 }), side()).kind).toBe('wait');
  });

  it('passes when no control group is left', () => {
    expect(judgeGates(gates({ maxLatencyP99Ratio: 2 }), side({ latencyP99Ms: 100 }), side({ nodes: 0 }))).toEqual({ kind: 'pass' });
  });
});
