import { describe, expect, it } from '@jest/globals';
import { CONFIDENCE_HISTOGRAM_LAYOUT, envelopeFields, type HeartbeatMessage, LATENCY_HISTOGRAM_LAYOUT } from '#protocol';
import { packHistogram, unpackHistogram } from './packed-histogram.js';
import { heartbeatRollupColumns, latencyHistLiteral } from './rollup-sql.js';

const beat = (over: Partial<HeartbeatMessage> = {}): HeartbeatMessage => ({
  ...envelopeFields(),
  seq: 1,
  model: { name: 'digits', version: '1.0.0', variant: 'fp32', sha256: 'ab'.repeat(32) },
  uptimeS: 1,
  cpu: 0.1,
  memMb: 100,
  freeDiskMb: 100,
  inferences: 10,
  errors: 1,
  latencyMs: null,
  latencyHistogram: { layout: LATENCY_HISTOGRAM_LAYOUT, counts: [[3, 4], [9, 6]] },
  confidenceHistogram: { layout: CONFIDENCE_HISTOGRAM_LAYOUT, counts: [[18, 2], [19, 8]], sum: 9.5 },
  ...over,
});

/** The numeric[] array text → its elements. */
const elements = (text: unknown) => String(text).slice(1, -1).split(',');

describe('heartbeatRollupColumns', () => {
  it('sums the heartbeats of one node and model bucket by bucket, and keeps other versions apart', () => {
    const a = beat();
    const b = beat({ seq: 2, inferences: 5, errors: 0, latencyHistogram: { layout: LATENCY_HISTOGRAM_LAYOUT, counts: [[9, 1], [40, 2]] } });
    const other = beat({ model: { name: 'digits', version: '2.0.0', variant: 'fp32', sha256: 'ab'.repeat(32) } });
    const params = heartbeatRollupColumns([a, b, other].map((message) => ({ nodeId: 'n1', message })));
    expect(params?.[2]).toEqual(['1.0.0', '2.0.0']);
    expect(params?.[5]).toEqual([15, 10]);
    expect(params?.[6]).toEqual([1, 1]);
    const [summed, alone] = elements(params?.[7]);
    const latency = unpackHistogram(summed ?? null, 83);
    expect([latency[3], latency[9], latency[40]]).toEqual([4, 7, 2]);
    expect(alone).toBe(latencyHistLiteral(other));
    expect(params?.[8]).toEqual([20, 10]);
    expect(params?.[9]).toEqual([19, 9.5]);
    const confidence = unpackHistogram(elements(params?.[10])[0] ?? null, 20);
    expect([confidence[18], confidence[19]]).toEqual([4, 16]);
  });

  it('reuses a lone heartbeat’s packed histogram, and sends an empty one as 0 and a missing latency one as NULL', () => {
    const lone = beat({ latencyHistogram: undefined, confidenceHistogram: undefined });
    const params = heartbeatRollupColumns([{ nodeId: 'n1', message: lone }]);
    expect(params?.[7]).toBe('{NULL}');
    expect(params?.[10]).toBe('{0}');
    const withHistogram = beat();
    expect(elements(heartbeatRollupColumns([{ nodeId: 'n1', message: withHistogram }])?.[7])).toEqual([
      packHistogram(Object.assign(new Array<number>(83).fill(0), { 3: 4, 9: 6 })),
    ]);
  });

  it('is null when no heartbeat names a model', () => {
    expect(heartbeatRollupColumns([{ nodeId: 'n1', message: beat({ model: null }) }])).toBeNull();
  });
});
