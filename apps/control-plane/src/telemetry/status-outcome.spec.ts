import { describe, expect, it } from '@jest/globals';
import { type DeploymentState, replacesDeploymentState, type StatusMessage } from '#protocol';
import { targetStatuses } from './status-outcome.js';

describe('replacesDeploymentState: an outcome is final', () => {
  it.each([
    [null, 'rejected', true],
    [null, 'downloading', true],
    ['downloading', 'committed', true],
    ['activated', 'rejected', true],
    ['committed', 'rejected', false],
    ['committed', 'failed', false],
    ['committed', 'downloading', false],
    ['rejected', 'committed', false],
    ['rolled-back', 'committed', false],
    ['failed', 'rolled-back', true],
    ['failed', 'committed', false],
    ['rolled-back', 'rolled-back', false],
  ] as [DeploymentState | null, DeploymentState, boolean][])('%s → %s: %s', (current, incoming, replaces) => {
    expect(replacesDeploymentState(current, incoming)).toBe(replaces);
  });
});

describe('targetStatuses: a batch settles as if its statuses came one by one', () => {
  const status = (nodeId: string, deploymentId: string, seq: number, state: DeploymentState) => ({ nodeId, message: { seq, deploymentId, state } as StatusMessage });
  const states = (batch: ReturnType<typeof status>[]) => targetStatuses(batch).map((s) => `${s.nodeId}/${s.message.deploymentId}:${s.message.state}`);

  it('keeps the first outcome of a target, whatever comes after it in the batch', () => {
    expect(states([status('n', 'd', 3, 'rejected'), status('n', 'd', 1, 'activated'), status('n', 'd', 2, 'committed')])).toEqual(['n/d:committed']);
  });

  it('lets the rollback that follows a failure refine it', () => {
    expect(states([status('n', 'd', 1, 'failed'), status('n', 'd', 2, 'rolled-back'), status('n', 'd', 3, 'rejected')])).toEqual(['n/d:rolled-back']);
  });

  it('takes the newest status of a target still in progress, per node and deployment', () => {
    expect(states([status('n', 'd', 1, 'downloading'), status('m', 'd', 5, 'staged'), status('n', 'd', 2, 'verified'), status('n', 'e', 3, 'rejected')]).sort()).toEqual(['m/d:staged', 'n/d:verified', 'n/e:rejected']);
  });
});
