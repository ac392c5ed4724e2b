import { describe, expect, it } from '@jest/globals';
import type { RolloutNode } from './rollout-source.js';
import { summarise, type SummaryInput, unfinishedHint, watchStep } from './watch-view.js';

const node = (name: string, wave: number, state: RolloutNode['state'], phase: string | null = null, failure: RolloutNode['failure'] = null): RolloutNode => ({
  nodeId: name,
  nodeName: name,
  wave,
  state,
  phase,
  failure,
  progress: null,
  modelVersionId: 'v',
  previousModelVersionId: null,
  attempts: 1,
  deploymentId: null,
  reason: null,
  updatedAt: '',
});

describe('summarise (what watch draws)', () => {
  it('counts done nodes per wave, nodes per phase (dispatched ones by their reported phase), and lists failures', () => {
    const rollout = { id: 'r', name: 'n', state: 'halted', currentWave: 1, haltReason: 'failure threshold', waves: [{ wave: 1, planned: 3 }, { wave: 2, planned: 2 }] } satisfies SummaryInput['rollout'];
    const nodes = [
      node('a', 1, 'succeeded'),
      node('b', 1, 'dispatched', 'downloading'),
      node('c', 1, 'failed', 'rolled-back', { reason: 'self-test-failed', detail: 'output 3 off' }),
      node('d', 2, 'pending'),
    ];
    const summary = summarise({ rollout, nodes });
    expect(summary.waves).toEqual([
      { wave: 1, planned: 3, done: 2, phases: { succeeded: 1, downloading: 1, failed: 1 } },
      { wave: 2, planned: 2, done: 0, phases: { pending: 1 } },
    ]);
    expect(summary.failures).toEqual([{ node: 'c', reason: 'self-test-failed', detail: 'output 3 off' }]);
    expect(summary.events).toEqual([]);
  });

  it('names the stream events a summary was read after, by id and type only', () => {
    const rollout = { id: 'r', name: 'n', state: 'halted', currentWave: 1, haltReason: null, waves: [] } satisfies SummaryInput['rollout'];
    const events = [{ id: '7', type: 'rollout.halted' as const }];
    expect(summarise({ rollout, nodes: [], events }).events).toEqual([{ id: '7', type: 'rollout.halted' }]);
  });

  it('ends a watch on the event that finished the rollout, at once when it finished before the watch', () => {
    const seen = (...types: string[]) => new Set(types);
    const cases: [string, boolean, Set<string>, ReturnType<typeof watchStep>][] = [
      ['running', false, seen(), 'follow'],
      ['paused', true, seen(), 'follow'],
      ['halted', true, seen(), 'done'],
      ['halted', false, seen('rollout.started'), 'await-event'],
      ['halted', false, seen('rollout.started', 'rollout.halted'), 'done'],
      ['completed', false, seen('rollout.halted'), 'await-event'],
      ['completed', false, seen('rollout.completed'), 'done'],
      ['aborted', false, seen('rollout.aborted'), 'done'],
      ['superseded', false, seen(), 'done'],
    ];
    for (const [state, first, types, expected] of cases) expect({ state, first, types: [...types], step: watchStep(state, first, types) }).toEqual({ state, first, types: [...types], step: expected });
  });
});

describe('unfinishedHint (what watch suggests when a rollout ends without completing)', () => {
  it('suggests resume only for a halted rollout, which is the only state resume accepts', () => {
    expect(unfinishedHint('halted', 'r1')).toMatch(/rollouts resume r1/);
    for (const state of ['aborted', 'superseded']) expect({ state, hint: unfinishedHint(state, 'r1') }).not.toEqual({ state, hint: expect.stringMatching(/resume r1/) });
  });

  it('sends an aborted rollout to a new rollout and a superseded one to the rollout that took over', () => {
    expect(unfinishedHint('aborted', 'r1')).toMatch(/rollouts create/);
    expect(unfinishedHint('superseded', 'r1')).toMatch(/rollouts ls/);
  });
});
