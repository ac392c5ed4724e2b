import { describe, expect, it } from '@jest/globals';
import { isRecordedDesiredState } from './desired.js';

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
