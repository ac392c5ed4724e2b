import { describe, expect, it } from '@jest/globals';
import type { RollUpOptions, RollUpRun } from './heartbeat-rollups.repository.js';
import { HeartbeatRollupsService } from './heartbeat-rollups.service.js';

/** A repository whose steps answer from a script: a run, nothing to do (null), or a statement timeout. */
function scripted(answers: ('run' | 'none' | 'timeout')[], summarize: () => Promise<void> = async () => undefined) {
  const steps: number[] = [];
  const repository = {
    summarizeNewRanges: summarize,
    hiddenSessions: async () => 0,
    rollUp: async (options: RollUpOptions): Promise<RollUpRun | null> => {
      steps.push(options.maxStepMinutes);
      const answer = answers.shift() ?? 'none';
      if (answer === 'timeout') throw Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
      return answer === 'run' ? { from: 'a', until: 'b', heartbeats: 1, groups: 1 } : null;
    },
  };
  return { steps, service: new HeartbeatRollupsService(repository) };
}

describe('HeartbeatRollupsService', () => {
  it('steps until there is nothing left, ten minutes a step', async () => {
    const { steps, service } = scripted(['run', 'run', 'none']);
    expect(await service.run()).toHaveLength(2);
    expect(steps).toEqual([10, 10, 10]);
  });

  it('halves the step after one runs out of time, down to a minute, and grows it back after steps that succeed', async () => {
    const { steps, service } = scripted(['timeout', 'timeout', 'timeout', 'timeout', 'timeout', 'run', 'run', 'run', 'run', 'none']);
    for (let job = 0; job < 5; job++) expect(await service.run()).toEqual([]);
    expect(service.step).toBe(1);
    expect(await service.run()).toHaveLength(4);
    expect(steps).toEqual([10, 5, 2, 1, 1, 1, 2, 4, 8, 10]);
  });

  it('rolls up even when the BRIN summaries fail, and lets other errors through', async () => {
    const { service } = scripted(['run', 'none'], async () => {
      throw new Error('must be owner of index');
    });
    expect(await service.run()).toHaveLength(1);
    const failing = new HeartbeatRollupsService({
      summarizeNewRanges: async () => undefined,
      hiddenSessions: async () => 0,
      rollUp: async () => {
        throw new Error('connection terminated');
      },
    });
    await expect(failing.run()).rejects.toThrow('connection terminated');
  });
});
