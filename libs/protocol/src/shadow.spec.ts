import { describe, expect, it } from '@jest/globals';
import { parseMessage } from './codec.js';
import { desiredStateSchema } from './signed-documents.js';
import { fleetTopics } from './topics.js';

const report = {
  v: 1,
  id: '6f1c1d9e-3a0e-4c55-9d7e-1e8f5b2c4a10',
  ts: '2026-12-02T07:00:00.000Z',
  seq: 1,
  deploymentId: '0b7f7f0e-8f3c-4d1e-9c4c-2a3f6b5d9e01',
  sha256: 'a'.repeat(64),
  startedAt: '2026-12-02T06:59:00.000Z',
  samples: 40,
  agreed: 39,
  errors: 0,
  skipped: 3,
  meanDivergence: 0.002,
  meanAbsDiff: 0.01,
  activeLatencyMs: 0.4,
  candidateLatencyMs: 0.5,
};

describe('shadow report (nodes/{nodeId}/shadow)', () => {
  it('parses a report and is a node uplink kind', () => {
    expect(parseMessage('shadow', JSON.stringify(report)).ok).toBe(true);
    const topics = fleetTopics('f');
    expect(topics.parseUplink(topics.uplink('0b7f7f0e-8f3c-4d1e-9c4c-2a3f6b5d9e01', 'shadow'))?.kind).toBe('shadow');
  });

  it.each([
    ['more agreements than samples', { agreed: 41 }],
    ['a divergence above 1', { meanDivergence: 1.5 }],
    ['a count beyond an integer column', { samples: 2 ** 31 }],
    ['a magnitude a real column refuses', { meanAbsDiff: 1e-50 }],
    ['a negative latency', { candidateLatencyMs: -1 }],
    ['an unknown field', { verdict: 'pass' }],
  ])('refuses %s', (_, change) => {
    expect(parseMessage('shadow', JSON.stringify({ ...report, ...change })).ok).toBe(false);
  });

  it('refuses an oversized payload before parsing it', () => {
    const parsed = parseMessage('shadow', JSON.stringify({ ...report, pad: 'x'.repeat(4096) }));
    expect(parsed.ok || parsed.error.reason).toBe('too-large');
  });

  it('lets a desired state carry a shadow order, bounded', () => {
    const shape = desiredStateSchema.shape.shadow;
    expect(shape.safeParse({ sampleRate: 0.25, decision: 'activate' }).success).toBe(true);
    expect(shape.safeParse({ sampleRate: 0 }).success).toBe(false);
    expect(shape.safeParse({ sampleRate: 0.5, decision: 'maybe' }).success).toBe(false);
  });
});
