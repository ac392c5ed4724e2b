import { describe, expect, it } from '@jest/globals';
import { combineVerdicts, judgeAccuracy, judgeDrift } from './signal-gates.js';
import { parseStrategy } from './strategy.js';

const gates = (g: object) => parseStrategy({ healthGates: g }).healthGates!;

describe('judgeAccuracy', () => {
  it('fails when canary accuracy drops more than allowed below control', () => {
    const v = judgeAccuracy(gates({ maxAccuracyDrop: 0.1 }), { labelled: 40, correct: 8 }, { labelled: 40, correct: 38 }, 2);
    expect(v).toEqual({ kind: 'fail', reason: 'accuracy gate: canary 20.0% vs control 95.0% on labelled results (max drop 10.0 points)' });
  });

  it('passes a drop within the limit', () => {
    expect(judgeAccuracy(gates({ maxAccuracyDrop: 0.1 }), { labelled: 40, correct: 35 }, { labelled: 40, correct: 38 }, 2)).toEqual({ kind: 'pass' });
  });

  it('waits while either side has fewer labelled results than asked (default 20)', () => {
    expect(judgeAccuracy(gates({ maxAccuracyDrop: 0.1 }), { labelled: 19, correct: 0 }, { labelled: 40, correct: 40 }, 2).kind).toBe('wait');
    expect(judgeAccuracy(gates({ maxAccuracyDrop: 0.1, minLabelledSamples: 5 }), { labelled: 5, correct: 0 }, { labelled: 4, correct: 4 }, 2).kind).toBe('wait');
    expect(judgeAccuracy(gates({ maxAccuracyDrop: 0.1, minLabelledSamples: 5 }), { labelled: 5, correct: 0 }, { labelled: 5, correct: 5 }, 2).kind).toBe('fail');
  });

  it('passes when not configured or when no control group is left', () => {
    expect(judgeAccuracy(gates({}), { labelled: 40, correct: 0 }, { labelled: 40, correct: 40 }, 2).kind).toBe('pass');
    expect(judgeAccuracy(gates({ maxAccuracyDrop: 0.1 }), { labelled: 40, correct: 0 }, { labelled: 0, correct: 0 }, 0).kind).toBe('pass');
  });
});

describe('judgeDrift', () => {
  it('fails above maxDrift, waits without a score, passes below', () => {
    expect(judgeDrift(gates({ maxDrift: 0.25 }), { nodes: 1, meanScore: 0.6 }).kind).toBe('fail');
    expect(judgeDrift(gates({ maxDrift: 0.25 }), { nodes: 0, meanScore: null }).kind).toBe('wait');
    expect(judgeDrift(gates({ maxDrift: 0.25 }), { nodes: 1, meanScore: 0.1 }).kind).toBe('pass');
    expect(judgeDrift(gates({}), { nodes: 1, meanScore: 9 }).kind).toBe('pass');
  });

  it('refuses a maxDrift out of bounds', () => {
    expect(() => gates({ maxDrift: 0 })).toThrow();
    expect(() => gates({ maxDrift: 101 })).toThrow();
  });
});

describe('combineVerdicts', () => {
  it('lets a failure win over a wait, and a wait over a pass', () => {
    const fail = { kind: 'fail', reason: 'x' } as const;
    const wait = { kind: 'wait', why: 'y' } as const;
    expect(combineVerdicts({ kind: 'pass' }, wait, fail)).toBe(fail);
    expect(combineVerdicts({ kind: 'pass' }, wait)).toBe(wait);
    expect(combineVerdicts({ kind: 'pass' }, { kind: 'pass' })).toEqual({ kind: 'pass' });
  });
});
