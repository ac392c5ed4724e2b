import { describe, expect, it } from '@jest/globals';
import { asksForServingRelease, isRecordedDesiredState } from './desired.js';

const manifest = { name: 'm', version: '1.0.0', sequence: 3, sha256: 'a'.repeat(64) };

describe('isRecordedDesiredState: only the recorded desired state itself is exempt from the sequence check', () => {
  it.each([
    ['the same deployment and manifest (the retained message again)', { deploymentId: 'd2', manifest: { ...manifest } }, true],
    ['the same manifest with keys in another order', { deploymentId: 'd2', manifest: { sha256: manifest.sha256, sequence: 3, version: '1.0.0', name: 'm' } }, true],
    ['an older deployment carrying the same manifest', { deploymentId: 'd1', manifest: { ...manifest } }, false],
    ['the same deployment with another manifest', { deploymentId: 'd2', manifest: { ...manifest, version: '1.0.1' } }, false],
  ])('%s', (_what, incoming, exempt) => {
    expect(isRecordedDesiredState({ deploymentId: 'd2', manifest }, incoming)).toBe(exempt);
  });

  it('exempts nothing when no desired state is recorded', () => {
    expect(isRecordedDesiredState(undefined, { deploymentId: 'd2', manifest })).toBe(false);
  });
});

describe('asksForServingRelease: a deployment of exactly the release that serves is no rollback', () => {
  const serving = { name: 'm', version: '1.1.0', variant: 'default', sha256: 'a'.repeat(64) };
  const release = { ...serving, sequence: 2 };
  it.each([
    ['the serving release, committed under that sequence', release, { m: 2 }, true],
    ['an older sequence of the same release', { ...release, sequence: 1 }, { m: 2 }, false],
    ['another version with the same bytes and sequence', { ...release, version: '1.0.0' }, { m: 2 }, false],
    ['another variant', { ...release, variant: 'int8' }, { m: 2 }, false],
    ['other bytes', { ...release, sha256: 'b'.repeat(64) }, { m: 2 }, false],
    ['the serving release before it is committed (in its soak)', release, { m: 1 }, false],
  ])('%s → %s', (_case, incoming, installed, exempt) => {
    expect(asksForServingRelease(serving, installed, incoming)).toBe(exempt);
  });

  it('exempts nothing when no model serves', () => {
    expect(asksForServingRelease(undefined, { m: 2 }, release)).toBe(false);
  });
});
