import { describe, expect, it } from '@jest/globals';
import type { DeploymentState, DesiredStateMessage } from '#protocol';
import { buildRoot, generateSigningKey, type ModelManifest } from '#trust';
import { testDesiredMessage, testManifest } from '../../../../test/helpers/desired-state.js';
import { DesiredIntake } from './desired-intake.js';
import type { StatusExtra } from './ports.js';
import { INITIAL_RECORD, type UpdateRecord } from './update-record.js';

// verifyDesired checks against the clock: documents are issued minutes ago and expire next year.
const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000);

const releaseKeys = [generateSigningKey()];
const root = buildRoot({ version: 1, expires: new Date(Date.now() + 365 * 86_400_000), rootKeys: [generateSigningKey()], rootThreshold: 1, releaseKeys, releaseThreshold: 1 });
const strangers = [generateSigningKey()];

const manifest = (version: string, sequence: number, sha: string): ModelManifest => testManifest({ version, sequence, sha256: sha.repeat(64) });

/** A desired-state message for node-a, signed by `signers` (the release keys unless said). */
const desired = (deploymentId: string, m: ModelManifest, issued: Date, signers = releaseKeys): DesiredStateMessage =>
  testDesiredMessage(m, { releaseKeys, signers, state: { deploymentId, issued: issued.toISOString() } });

function intakeWith(record: UpdateRecord) {
  const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const reports: { deploymentId: string | undefined; state: DeploymentState; extra?: StatusExtra }[] = [];
  const policies: string[] = [];
  const intake = new DesiredIntake({
    trust: { current: root, expired: false },
    nodeId: 'node-a',
    journal: { record },
    holder: { model: undefined },
    loader: { adoptSignatures: async () => false },
    reporter: {
      report: async (deploymentId, state, extra) => {
        reports.push({ deploymentId, state, extra });
      },
    },
    ports: { log: (level, message, fields) => logs.push({ level, message, fields }), adoptResultsPolicy: (model) => policies.push(model.version) },
  });
  return { intake, logs, reports, policies };
}

const refusals = (logs: { message: string; fields?: Record<string, unknown> }[]) => logs.filter((l) => l.message === 'refused a desired state').map((l) => l.fields);

describe('DesiredIntake', () => {
  it('accepts a genuine desired state, hands its results policy on and raises the floor: an older one is refused as stale, unreported', () => {
    const { intake, logs, reports, policies } = intakeWith(INITIAL_RECORD);
    expect(intake.verify(desired('d2', manifest('2.0.0', 2, 'b'), ago(10)), true)?.state.deploymentId).toBe('d2');
    expect(policies).toEqual(['2.0.0']);
    expect(intake.verify(desired('d1', manifest('1.0.0', 1, 'a'), ago(20)), true)).toBeUndefined();
    expect(refusals(logs)).toEqual([expect.objectContaining({ deploymentId: 'd1', kind: 'stale', reported: false })]);
    expect(reports).toEqual([]);
  });

  it('reports a genuine, current refusal rejected against its deployment, only when asked to', () => {
    const record = { ...INITIAL_RECORD, installed: { m: 5 } };
    const lower = desired('d3', manifest('3.0.0', 4, 'c'), ago(5));
    const { intake, logs, reports } = intakeWith(record);
    expect(intake.verify(lower, false)).toBeUndefined();
    expect(reports).toEqual([]);
    expect(intake.verify(lower, true)).toBeUndefined();
    expect(reports).toEqual([expect.objectContaining({ deploymentId: 'd3', state: 'rejected' })]);
    expect(refusals(logs).map((f) => [f?.kind, f?.reported])).toEqual([
      ['refused', false],
      ['refused', true],
    ]);
  });

  it('logs what an unverified document claims, never reports it, and keeps it once for a newer root', () => {
    const forged = desired('d9', manifest('9.0.0', 9, 'f'), ago(1), strangers);
    const { intake, logs, reports } = intakeWith(INITIAL_RECORD);
    expect(intake.verify(forged, true)).toBeUndefined();
    expect(refusals(logs)).toEqual([expect.objectContaining({ claimedDeploymentId: 'd9', kind: 'unverified', reported: false })]);
    expect(refusals(logs)[0]).not.toHaveProperty('deploymentId');
    expect(reports).toEqual([]);
    expect(intake.takeRefusedUnderRoot()).toBe(forged);
    expect(intake.takeRefusedUnderRoot()).toBeUndefined();
  });

  it('takes the floor of an older record from the issued time of its recorded desired state', () => {
    const record = { ...INITIAL_RECORD, desired: desired('d2', manifest('2.0.0', 2, 'b'), ago(10)) };
    const older = desired('d1', manifest('1.0.0', 1, 'a'), ago(20));
    const restored = intakeWith(record);
    restored.intake.restoreFloor(record);
    expect(restored.intake.verify(older, true)).toBeUndefined();
    expect(refusals(restored.logs)).toEqual([expect.objectContaining({ kind: 'stale' })]);
    // Without the floor the same document passes: the refusal above is the floor's.
    expect(intakeWith(record).intake.verify(older, true)?.state.deploymentId).toBe('d1');
  });
});
