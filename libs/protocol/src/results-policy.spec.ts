import { parseMessage } from './codec.js';
import { desiredStateSchema } from './signed-documents.js';
import { resultsPolicySchema, sampleFraction, sendsResult } from './results-policy.js';

const refs = Array.from({ length: 20_000 }, (_, i) => `img-${i}`);

describe('results policy', () => {
  it('sends every result under all and none under aggregates', () => {
    expect(refs.slice(0, 100).every((r, i) => sendsResult({ mode: 'all' }, r, i))).toBe(true);
    expect(refs.slice(0, 100).some((r, i) => sendsResult({ mode: 'aggregates' }, r, i))).toBe(false);
  });

  it('samples by the inputRef alone: the same reference gets the same answer whatever its seq', () => {
    const policy = { mode: 'sample' as const, rate: 0.3 };
    for (const ref of refs.slice(0, 500)) expect(sendsResult(policy, ref, 1)).toBe(sendsResult(policy, ref, 987_654));
  });

  it.each([0.01, 0.1, 0.5, 0.9])('sends close to the rate %p of sequential references', (rate) => {
    const sent = refs.filter((r, i) => sendsResult({ mode: 'sample', rate }, r, i)).length / refs.length;
    // 20,000 draws: a binomial's standard deviation is at most 0.0036; 0.015 is four of them.
    expect(Math.abs(sent - rate)).toBeLessThan(0.015);
  });

  it('nests samples: what a lower rate sends, a higher rate sends too', () => {
    const low = refs.filter((r, i) => sendsResult({ mode: 'sample', rate: 0.2 }, r, i));
    expect(low.every((r) => sendsResult({ mode: 'sample', rate: 0.6 }, r, 0))).toBe(true);
    expect(refs.every((r, i) => sendsResult({ mode: 'sample', rate: 1 }, r, i))).toBe(true);
  });

  it('spreads fractions over [0, 1) for keys that differ in one character', () => {
    const deciles = new Array<number>(10).fill(0);
    for (const r of refs) deciles[Math.floor(sampleFraction(r) * 10)]++;
    for (const d of deciles) expect(Math.abs(d - refs.length / 10)).toBeLessThan(300);
    expect(sampleFraction('')).toBeGreaterThanOrEqual(0);
  });

  it.each([
    [{ mode: 'sample' }],
    [{ mode: 'sample', rate: 0 }],
    [{ mode: 'sample', rate: 1.5 }],
    [{ mode: 'sample', rate: Number.NaN }],
    [{ mode: 'all', rate: 0.5 }],
    [{ mode: 'aggregates', rate: 1 }],
    [{ mode: 'none' }],
    [{}],
  ])('refuses the policy %j', (policy) => {
    expect(resultsPolicySchema.safeParse(policy).success).toBe(false);
  });

  it('keeps a desired state without a policy valid (older control planes) and bounds one with it', () => {
    const body = { type: 'desired-state', nodeId: 'n', deploymentId: 'd', manifest: { signed: {}, signatures: [] }, issued: 'x', expires: 'y' };
    const withoutManifest = desiredStateSchema.omit({ manifest: true });
    expect(withoutManifest.safeParse(body).success).toBe(true);
    expect(withoutManifest.safeParse({ ...body, resultsPolicy: { mode: 'sample', rate: 0.5 } }).success).toBe(true);
    expect(withoutManifest.safeParse({ ...body, resultsPolicy: { mode: 'sample', rate: 2 } }).success).toBe(false);
  });

  it('parses a results request by references or by a time range, not both and not neither', () => {
    const base = { v: 1, id: '6f9619ff-8b86-4d11-b42d-00c04fc964ff', ts: '2026-12-02T00:00:00Z' };
    const parse = (m: object) => parseMessage('results-requests', JSON.stringify({ ...base, ...m })).ok;
    expect(parse({ inputRefs: ['a', 'b'] })).toBe(true);
    expect(parse({ from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' })).toBe(true);
    expect(parse({})).toBe(false);
    expect(parse({ from: '2026-12-01T00:00:00Z' })).toBe(false);
    expect(parse({ inputRefs: ['a'], from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' })).toBe(false);
    expect(parse({ from: '2026-12-03T00:00:00Z', to: '2026-12-02T00:00:00Z' })).toBe(false);
    expect(parse({ inputRefs: [] })).toBe(false);
    expect(parse({ inputRefs: Array.from({ length: 1001 }, (_, i) => `r${i}`) })).toBe(false);
  });
});
