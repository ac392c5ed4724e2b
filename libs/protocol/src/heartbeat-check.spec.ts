import { describe, expect, it } from '@jest/globals';
import { heartbeatMessage, SCHEMA_VERSION } from './messages.js';
import { isCertainlyHeartbeat } from './heartbeat-check.js';
import { parseMessage } from './codec.js';

const full = {
  v: 1,
  id: '3f0e4a5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b',
  ts: '2026-12-02T11:00:00.123Z',
  seq: 7,
  model: { name: 'digits', version: '1.0.0', variant: 'fp32', sha256: 'ab'.repeat(32) },
  uptimeS: 100,
  cpu: 0.25,
  memMb: 512,
  freeDiskMb: 10_000,
  inferences: 100,
  errors: 1,
  latencyMs: { p50: 1.5, p99: 4.2 },
  latencyHistogram: { layout: 'log2q4-0.05ms', counts: [[3, 10], [7, 90]] },
  confidenceHistogram: { layout: 'linear20', counts: [[18, 40], [19, 60]], sum: 95.5 },
  attestation: { nonce: 'abcdefghijklmnop_-', sha256: 'cd'.repeat(32), sig: `${'A'.repeat(86)}==` },
  drift: { input: 0.1, confidence: 0.2, samples: 200 },
};
const plain = { ...full, model: null, latencyMs: null, latencyHistogram: undefined, confidenceHistogram: undefined, attestation: undefined, drift: undefined };

/** Sets (or, with `undefined`, removes) the value at a dotted path of a deep copy. */
function withValue(base: object, path: string, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  const keys = path.split('.');
  let at = copy as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  const last = keys[keys.length - 1] as string;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

const BAD_VALUES: unknown[] = [
  undefined, null, -1, 0, 1, 1.5, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 1e-50, 3.5e38, 1025, -0.5, '', 'x', 'a\u0000b', 'x'.repeat(201),
  true, [], {}, [[0, 1]], [[0, 2 ** 32]], [[1, 1], [0, 1]], [[0, 0]], [[99, 1]], [[0, 1.5]], [0, 1], '2026-02-30T00:00:00Z', '0000-01-01T00:00:00Z',
  '2026-12-02T11:00:00+01:00', '2026-12-02T11:00:00', '2026-12-02T24:00:00Z', '00000000-0000-0000-0000-000000000000', '3f0e4a5c-1b2d-9e6f-8a9b-0c1d2e3f4a5b',
  'AB'.repeat(32), 'ab'.repeat(32), 'log2q4-0.05ms', 'linear20', 1000, 1000.5, 2,
];
const PATHS = [
  'v', 'id', 'ts', 'seq', 'model', 'model.name', 'model.version', 'model.variant', 'model.sha256', 'model.extra', 'uptimeS', 'cpu', 'memMb', 'freeDiskMb',
  'inferences', 'errors', 'latencyMs', 'latencyMs.p50', 'latencyMs.p99', 'latencyMs.p90', 'latencyHistogram', 'latencyHistogram.layout', 'latencyHistogram.counts',
  'confidenceHistogram', 'confidenceHistogram.layout', 'confidenceHistogram.counts', 'confidenceHistogram.sum', 'attestation', 'attestation.nonce',
  'attestation.sha256', 'attestation.sig', 'drift', 'drift.input', 'drift.confidence', 'drift.samples', 'extra', '__proto__',
];

describe('the fast heartbeat check', () => {
  it('accepts valid heartbeats, with and without every optional field, as the schema does', () => {
    for (const value of [full, JSON.parse(JSON.stringify(plain)) as unknown]) {
      expect(heartbeatMessage.safeParse(value).success).toBe(true);
      expect(isCertainlyHeartbeat(value, SCHEMA_VERSION)).toBe(true);
    }
  });

  it('gives the schema\'s verdict for every field set to every odd value (never accepts what the schema refuses)', () => {
    let cases = 0;
    for (const path of PATHS) {
      for (const value of BAD_VALUES) {
        const input = withValue(full, path, value);
        const fast = isCertainlyHeartbeat(input, SCHEMA_VERSION);
        const schema = heartbeatMessage.safeParse(input).success;
        if (fast !== schema) throw new Error(`${path} = ${JSON.stringify(value)}: fast ${fast}, schema ${schema}`);
        cases++;
      }
    }
    expect(cases).toBe(PATHS.length * BAD_VALUES.length);
  });

  it('refuses more confidences than inferences, as the schema does', () => {
    const input = withValue(full, 'inferences', 99);
    expect(isCertainlyHeartbeat(input, SCHEMA_VERSION)).toBe(false);
    expect(heartbeatMessage.safeParse(input).success).toBe(false);
  });

  it('leaves the error to the schema: parseMessage reports zod\'s issues for a heartbeat the check refuses', () => {
    const parsed = parseMessage('heartbeat', JSON.stringify(withValue(full, 'cpu', 2000)));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(/^invalid heartbeat: cpu: /);
  });
});
