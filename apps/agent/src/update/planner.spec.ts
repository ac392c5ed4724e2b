import { describe, expect, it } from '@jest/globals';
import { type CurrentState, type DesiredTarget, planUpdate, type Step } from './planner.js';

const FULL: Step[] = ['download', 'verify', 'stage', 'self-test', 'activate', 'soak', 'commit'];
const d1: DesiredTarget = { deploymentId: 'd1', sha256: 'a'.repeat(64), servingKey: 'a:serve1' };
const d2: DesiredTarget = { deploymentId: 'd2', sha256: 'b'.repeat(64), servingKey: 'b:serve1' };

const CASES: [string, CurrentState, DesiredTarget | undefined, Step[]][] = [
  ['nothing desired', { phase: 'idle' }, undefined, []],
  ['a first deployment', { phase: 'idle' }, d1, FULL],
  ['a new model while idle', { phase: 'idle', installedSha256: d1.sha256 }, d2, FULL],
  ['the bytes that already serve, as a new version serving alike: adopt its manifest', { phase: 'idle', installedSha256: d1.sha256, installedServingKey: d1.servingKey }, { ...d1, deploymentId: 'd9' }, ['adopt', 'commit']],
  ['a restart while adopting', { phase: 'downloading', deploymentId: 'd9', installedSha256: d1.sha256, installedServingKey: d1.servingKey }, { ...d1, deploymentId: 'd9' }, ['adopt', 'commit']],
  ['the bytes that already serve with other preprocessing, specs or labels: the whole pipeline, soak included', { phase: 'idle', installedSha256: d1.sha256, installedServingKey: d1.servingKey }, { ...d1, deploymentId: 'd9', servingKey: 'a:serve2' }, FULL],
  ['the bytes that already serve, the serving manifest unknown: the whole pipeline', { phase: 'idle', installedSha256: d1.sha256 }, { ...d1, deploymentId: 'd9' }, FULL],
  ['the previous model (still in the other slot): reuse it', { phase: 'idle', installedSha256: d2.sha256, previousSha256: d1.sha256 }, { ...d1, deploymentId: 'd9' }, ['reuse-slot', 'self-test', 'activate', 'soak', 'commit']],
  ['a restart while reusing the previous slot', { phase: 'downloading', deploymentId: 'd9', installedSha256: d2.sha256, previousSha256: d1.sha256 }, { ...d1, deploymentId: 'd9' }, ['reuse-slot', 'self-test', 'activate', 'soak', 'commit']],
  ['a restart mid-download', { phase: 'downloading', deploymentId: 'd1' }, d1, FULL],
  ['a restart mid-verify', { phase: 'verifying', deploymentId: 'd1' }, d1, FULL.slice(1)],
  ['a restart mid-stage', { phase: 'staging', deploymentId: 'd1' }, d1, FULL.slice(2)],
  ['a restart mid-activation', { phase: 'activating', deploymentId: 'd1' }, d1, FULL.slice(4)],
  ['a restart during the soak', { phase: 'soaking', deploymentId: 'd1' }, d1, ['soak', 'commit']],
  ['a restart between commit and cleanup', { phase: 'committed', deploymentId: 'd1', installedSha256: d1.sha256 }, d1, ['commit']],
  ['the same deployment, done', { phase: 'idle', deploymentId: 'd1', installedSha256: d1.sha256 }, d1, []],
  ['a crash after a failure', { phase: 'failed', deploymentId: 'd1' }, d1, ['rollback']],
  ['a newer deployment mid-download', { phase: 'downloading', deploymentId: 'd1' }, d2, FULL],
  ['a newer deployment during the soak of another: abandon it first', { phase: 'soaking', deploymentId: 'd1' }, d2, ['abandon']],
  ['a newer deployment during the activation of another: abandon it first', { phase: 'activating', deploymentId: 'd1' }, d2, ['abandon']],
  ['a deployment after a rollback', { phase: 'rolled-back', deploymentId: 'd1' }, d2, FULL],
  ['another deployment of the release that serves and is committed, nothing in flight: report only', { phase: 'idle', deploymentId: 'd1', installedSha256: d1.sha256, installedServingKey: d1.servingKey }, { ...d1, deploymentId: 'd9', servesAlready: true }, ['confirm']],
  ['that deployment again once recorded: nothing', { phase: 'idle', deploymentId: 'd9', installedSha256: d1.sha256, installedServingKey: d1.servingKey }, { ...d1, deploymentId: 'd9', servesAlready: true }, []],
  ['the release that serves while another update is in flight: not report-only', { phase: 'self-testing', deploymentId: 'd2', installedSha256: d1.sha256, installedServingKey: d1.servingKey }, { ...d1, deploymentId: 'd9', servesAlready: true }, ['adopt', 'commit']],
  ['a shadowed deployment: shadow between self-test and activation', { phase: 'idle' }, { ...d1, shadow: true }, ['download', 'verify', 'stage', 'self-test', 'shadow', 'activate', 'soak', 'commit']],
  ['a restart while shadowing: shadow again (never straight to activation)', { phase: 'shadowing', deploymentId: 'd1' }, { ...d1, shadow: true }, ['shadow', 'activate', 'soak', 'commit']],
  ['a restart while shadowing, the copy at hand without the shadow field: still shadow', { phase: 'shadowing', deploymentId: 'd1' }, d1, ['shadow', 'activate', 'soak', 'commit']],
  ['a restart mid self-test of a shadowed deployment', { phase: 'self-testing', deploymentId: 'd1' }, { ...d1, shadow: true }, ['self-test', 'shadow', 'activate', 'soak', 'commit']],
  ['a newer deployment while shadowing another: planned at once (nothing serves the candidate)', { phase: 'shadowing', deploymentId: 'd1' }, d2, FULL],
  ['the previous slot, shadowed', { phase: 'idle', installedSha256: d2.sha256, previousSha256: d1.sha256 }, { ...d1, deploymentId: 'd9', shadow: true }, ['reuse-slot', 'self-test', 'shadow', 'activate', 'soak', 'commit']],
  ['the bytes that serve already, shadow asked: adopt (nothing to compare)', { phase: 'idle', installedSha256: d1.sha256, installedServingKey: d1.servingKey }, { ...d1, deploymentId: 'd9', shadow: true }, ['adopt', 'commit']],
];

describe('planUpdate', () => {
  it.each(CASES)('%s', (_, current, desired, steps) => {
    expect(planUpdate(current, desired)).toEqual(steps);
  });
});
