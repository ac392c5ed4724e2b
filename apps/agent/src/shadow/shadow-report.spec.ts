import { describe, expect, it } from '@jest/globals';
import { encodeMessage } from '#protocol';
import { shadowReportOf } from './shadow-report.js';
import { ShadowTally } from './shadow-math.js';

describe('shadowReportOf', () => {
  it('builds a report the protocol accepts from a run and its figures (and nothing else the run carries)', () => {
    const tally = new ShadowTally();
    tally.add([0.2, 0.8], [0.3, 0.7], 1.5, 2.5);
    const run = { deploymentId: '0b7f7f0e-8f3c-4d1e-9c4c-2a3f6b5d9e01', sha256: 'b'.repeat(64), sampleRate: 0.5 };
    const message = shadowReportOf(7, { ...run, startedAt: new Date('2026-12-02T07:00:00Z'), ...tally.figures() });
    expect(() => encodeMessage('shadow', message)).not.toThrow();
    expect(message).toMatchObject({ seq: 7, samples: 1, agreed: 1, activeLatencyMs: 1.5, candidateLatencyMs: 2.5, startedAt: '2026-12-02T07:00:00.000Z' });
    expect(message).not.toHaveProperty('sampleRate');
  });
});
