import { describe, expect, it } from '@jest/globals';
import { CONFIDENCE_HISTOGRAM_LAYOUT, envelopeFields, type HeartbeatMessage, LATENCY_BUCKET_COUNT, LATENCY_HISTOGRAM_LAYOUT } from '#protocol';
import { packHistogram, unpackHistogram } from './packed-histogram.js';
import { confidenceColumns, latencyHistLiteral, rollupSource, ROLLUP_TIERS } from './rollup-sql.js';

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

describe('a heartbeat row’s histogram columns', () => {
  it('packs the latency histogram bucket by bucket, and is null without one', () => {
    const packed = latencyHistLiteral(beat());
    expect(packed).toBe(packHistogram(Object.assign(new Array<number>(LATENCY_BUCKET_COUNT).fill(0), { 3: 4, 9: 6 })));
    const latency = unpackHistogram(packed, LATENCY_BUCKET_COUNT);
    expect([latency[3], latency[9], latency.reduce((a, b) => a + b, 0)]).toEqual([4, 6, 10]);
    expect(latencyHistLiteral(beat({ latencyHistogram: undefined }))).toBeNull();
  });

  it('stores the confidence count, sum and packed histogram, or three nulls', () => {
    const [count, sum, hist] = confidenceColumns(beat());
    expect([count, sum]).toEqual([10, 9.5]);
    const confidence = unpackHistogram(hist, 20);
    expect([confidence[18], confidence[19]]).toEqual([2, 8]);
    expect(confidenceColumns(beat({ confidenceHistogram: undefined }))).toEqual([null, null, null]);
  });
});

describe('rollupSource', () => {
  it('reads each tier with the heartbeats past the watermark, truncated to the tier’s unit', () => {
    for (const tier of ROLLUP_TIERS) {
      const sql = rollupSource(tier, `now() - interval '1 hour'`);
      expect(sql).toContain(`FROM ${tier.table}`);
      expect(sql).toContain(`date_trunc('${tier.unit}', h.received_at)`);
      expect(sql).toContain(`h.received_at >= (SELECT until FROM rollup_watermarks WHERE name = 'heartbeats') AND h.received_at >= now() - interval '1 hour'`);
    }
  });
});
