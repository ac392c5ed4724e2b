import { describe, expect, it } from '@jest/globals';
import type { RolloutNode } from './rollout-source.js';
import { summarise, type SummaryInput, unfinishedHint, watchStep } from './watch-view.js';

const node = (name: string, wave: number, state: RolloutNode['state'], phase: string | null = null, failure: RolloutNode['failure'] = null, shadow: RolloutNode['shadow'] = null): RolloutNode => ({
  nodeId: name,
  nodeName: name,
  wave,
  state,
  phase,
  failure,
  shadow,
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
    expect(summary.serving).toBe(1);
    expect(summary.events).toEqual([]);
  });

  it('shows a shadow wave as shadowing, then activating or abandoning, where the nodes still report self-tested', () => {
    const rollout = { id: 'r', name: 'n', state: 'running', currentWave: 1, haltReason: null, waves: [{ wave: 1, planned: 4 }] } satisfies SummaryInput['rollout'];
    const nodes = [
      node('a', 1, 'dispatched', 'self-tested', null, 'shadowing'),
      node('b', 1, 'dispatched', 'self-tested', null, 'activate'),
      node('c', 1, 'dispatched', 'activated', null, 'activate'),
      node('d', 1, 'dispatched', 'self-tested'),
    ];
    const summary = summarise({ rollout, nodes });
    expect(summary.waves[0]?.phases).toEqual({ shadowing: 1, activating: 1, activated: 1, 'self-tested': 1 });
    expect(summary.serving).toBe(1);
  });

  it('names the nodes a halted shadow wave tells to drop the candidate until they confirm, and counts none serving it', () => {
    const rollout = { id: 'r', name: 'n', state: 'halted', currentWave: 1, haltReason: 'shadow gate: …', waves: [{ wave: 1, planned: 2 }] } satisfies SummaryInput['rollout'];
    const nodes = [node('a', 1, 'dispatched', 'self-tested', null, 'abandon'), node('b', 1, 'failed', 'rolled-back', { reason: 'shadow-failed', detail: null }, 'abandon')];
    const summary = summarise({ rollout, nodes });
    expect(summary.waves[0]?.phases).toEqual({ abandoning: 1, failed: 1 });
    expect(summary.failures).toEqual([{ node: 'b', reason: 'shadow-failed', detail: null }]);
    expect(summary.abandoning).toEqual(['a']);
    expect(summary.serving).toBe(0);
  });

  it('counts as serving every node that runs the version, timed out in its soak included, and not one reporting on its revert', () => {
    const rollout = { id: 'r', name: 'n', state: 'halted', currentWave: 2, haltReason: 'failure threshold', waves: [{ wave: 1, planned: 1 }, { wave: 2, planned: 5 }] } satisfies SummaryInput['rollout'];
    const nodes = [
      node('a', 1, 'succeeded', 'committed'),
      node('b', 2, 'failed', 'activated', { reason: null, detail: null }),
      node('c', 2, 'retry-wait', 'committed'),
      node('d', 2, 'reverting', 'committed'),
      node('e', 2, 'failed', 'rolled-back', { reason: 'soak-failed', detail: null }),
      node('f', 2, 'reverted', 'committed'),
    ];
    expect(summarise({ rollout, nodes })).toMatchObject({ serving: 3, reverting: 1 });
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
    expect(unfinishedHint('halted', 'r1', { serving: 1, reverting: 0 })).toMatch(/rollouts resume r1/);
    for (const state of ['aborted', 'superseded']) expect({ state, hint: unfinishedHint(state, 'r1', { serving: 1, reverting: 0 }) }).not.toEqual({ state, hint: expect.stringMatching(/resume r1/) });
  });

  it('offers a halted rollout a rollback only when some node serves its version', () => {
    expect(unfinishedHint('halted', 'r1', { serving: 2, reverting: 0 })).toMatch(/rollouts rollback r1/);
    expect(unfinishedHint('halted', 'r1', { serving: 0, reverting: 0 })).not.toMatch(/rollback r1/);
    expect(unfinishedHint('halted', 'r1', { serving: 0, reverting: 0 })).toMatch(/nothing to roll back/);
    expect(unfinishedHint('halted', 'r1', { serving: 0, reverting: 2 })).toMatch(/being returned to their previous version/);
    expect(unfinishedHint('aborted', 'r1', { serving: 1, reverting: 0 })).toMatch(/rollouts rollback r1/);
    expect(unfinishedHint('aborted', 'r1', { serving: 0, reverting: 0 })).not.toMatch(/rollback/);
  });

  it('sends an aborted rollout to a new rollout and a superseded one to the rollout that took over', () => {
    expect(unfinishedHint('aborted', 'r1', { serving: 0, reverting: 0 })).toMatch(/rollouts create/);
    expect(unfinishedHint('superseded', 'r1', { serving: 0, reverting: 0 })).toMatch(/rollouts ls/);
  });
});
