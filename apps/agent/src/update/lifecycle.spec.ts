import { describe, expect, it } from '@jest/globals';
import { EVENTS, IllegalTransitionError, type LifecycleEvent, nextPhase, type Phase, PHASES } from './lifecycle.js';

const HAPPY: [Phase, LifecycleEvent, Phase][] = [
  ['idle', 'desired', 'downloading'],
  ['downloading', 'downloaded', 'verifying'],
  ['verifying', 'verified', 'staging'],
  ['staging', 'staged', 'self-testing'],
  ['self-testing', 'self-test-passed', 'activating'],
  ['activating', 'activated', 'soaking'],
  ['soaking', 'soak-passed', 'committed'],
  ['committed', 'done', 'idle'],
  ['downloading', 'adopted', 'committed'],
  ['downloading', 'reused', 'self-testing'],
  ['self-testing', 'shadow-started', 'shadowing'],
  ['shadowing', 'shadow-approved', 'activating'],
];

describe('update lifecycle transition table', () => {
  it.each(HAPPY)('%s --%s--> %s', (from, event, to) => {
    expect(nextPhase(from, event)).toBe(to);
  });

  it.each(['downloading', 'verifying', 'staging', 'self-testing', 'shadowing', 'activating', 'soaking'] as Phase[])('fails from %s, then rolls back to idle', (from) => {
    const failed = nextPhase(from, 'fail');
    expect(failed).toBe('failed');
    expect(nextPhase(nextPhase(failed, 'rolled-back'), 'done')).toBe('idle');
  });

  it.each(['idle', 'downloading', 'verifying', 'staging', 'self-testing', 'shadowing', 'committed', 'rolled-back'] as Phase[])(
    'a newer desired state restarts the download from %s',
    (from) => expect(nextPhase(from, 'desired')).toBe('downloading'),
  );

  it.each(['activating', 'soaking', 'failed'] as Phase[])('a newer desired state waits while %s (it touches what serves)', (from) => {
    expect(() => nextPhase(from, 'desired')).toThrow(IllegalTransitionError);
  });

  it('a shadowed candidate reaches activation only through the approval edge', () => {
    for (const event of EVENTS.filter((e) => e !== 'shadow-approved' && e !== 'fail' && e !== 'desired')) {
      expect(() => nextPhase('shadowing', event)).toThrow(IllegalTransitionError);
    }
    expect(() => nextPhase('staging', 'shadow-started')).toThrow(IllegalTransitionError);
    expect(() => nextPhase('self-testing', 'shadow-approved')).toThrow(IllegalTransitionError);
  });

  it('cannot fail a committed model, or roll back what has not failed', () => {
    expect(() => nextPhase('committed', 'fail')).toThrow(IllegalTransitionError);
    expect(() => nextPhase('soaking', 'rolled-back')).toThrow(IllegalTransitionError);
    expect(() => nextPhase('idle', 'fail')).toThrow(IllegalTransitionError);
  });

  it('defines exactly the happy path, failure, rollback and supersede edges (no others)', () => {
    let legal = 0;
    for (const from of PHASES) for (const event of EVENTS) {
      try {
        nextPhase(from, event);
        legal++;
      } catch (error) {
        expect(error).toBeInstanceOf(IllegalTransitionError);
      }
    }
    // 7 happy-path steps (idle→downloading counts as a supersede) + 8 supersede + 7 fail
    // + failed→rolled-back + rolled-back→idle + the two known-bytes shortcuts (adopted, reused)
    // + the two shadow edges (shadow-started, shadow-approved)
    expect(legal).toBe(7 + 8 + 7 + 1 + 1 + 2 + 2);
  });
});
