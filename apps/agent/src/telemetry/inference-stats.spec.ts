import { confidenceBucket, denseHistogram, heartbeatMessage, histogramQuantile, latencyBucket } from '#protocol';
import { InferenceStats } from './inference-stats.js';

describe('InferenceStats', () => {
  it('reports the window as a histogram of the named model, with p50/p99 read from it', () => {
    const stats = new InferenceStats();
    for (let i = 0; i < 99; i++) stats.record('a'.repeat(64), true, 2);
    stats.record('a'.repeat(64), true, 900);
    stats.record('a'.repeat(64), false, 5);
    const window = stats.takeWindow('a'.repeat(64));
    expect(window).toMatchObject({ inferences: 101, errors: 1 });
    const counts = denseHistogram(window.latencyHistogram?.counts ?? []);
    expect(counts[latencyBucket(2)]).toBe(99);
    expect(counts[latencyBucket(900)]).toBe(1);
    expect(window.latencyMs).toEqual({ p50: histogramQuantile(counts, 0.5), p99: histogramQuantile(counts, 0.99) });
    expect(stats.takeWindow('a'.repeat(64))).toEqual({ inferences: 0, errors: 0, latencyMs: null });
  });

  it('never attributes one model’s latencies to another after a hot swap', () => {
    const stats = new InferenceStats();
    stats.record('a'.repeat(64), true, 2);
    stats.record('b'.repeat(64), true, 40);
    const window = stats.takeWindow('b'.repeat(64));
    expect(window.latencyHistogram?.counts).toEqual([[latencyBucket(40), 1]]);
    stats.record('b'.repeat(64), true, 40);
    expect(stats.takeWindow('a'.repeat(64)).latencyHistogram).toBeUndefined();
  });

  it('produces a heartbeat field the protocol accepts, with an overflow latency', () => {
    const stats = new InferenceStats();
    stats.record('a'.repeat(64), true, 1e7);
    const window = stats.takeWindow('a'.repeat(64));
    const parsed = heartbeatMessage.safeParse({
      v: 1, id: crypto.randomUUID(), ts: new Date().toISOString(), seq: 1, model: null, uptimeS: 1, cpu: 0, memMb: 1, freeDiskMb: 1,
      inferences: window.inferences, errors: window.errors, latencyMs: window.latencyMs, latencyHistogram: window.latencyHistogram,
    });
    expect(parsed.success).toBe(true);
  });

  it('reports the top-class confidences of the named model’s successful inferences, with their exact sum', () => {
    const stats = new InferenceStats();
    for (let i = 0; i < 3; i++) stats.record('a'.repeat(64), true, 2, 0.9);
    stats.record('a'.repeat(64), true, 2, 0.31);
    stats.record('a'.repeat(64), false, 2, 0.99); // a failure has no confidence
    stats.record('a'.repeat(64), true, 2, 1.7); // an output that is not a probability counts as 1
    const window = stats.takeWindow('a'.repeat(64));
    expect(window.confidenceHistogram).toEqual({ layout: 'linear20', counts: [[confidenceBucket(0.31), 1], [confidenceBucket(0.9), 3], [19, 1]], sum: expect.closeTo(0.9 * 3 + 0.31 + 1, 9) });
    expect(stats.takeWindow('a'.repeat(64)).confidenceHistogram).toBeUndefined();
    stats.record('a'.repeat(64), true, 2, 0.5);
    stats.record('b'.repeat(64), true, 2, 0.7);
    expect(stats.takeWindow('b'.repeat(64)).confidenceHistogram).toEqual({ layout: 'linear20', counts: [[confidenceBucket(0.7), 1]], sum: 0.7 });
  });

  it('produces a confidence histogram the protocol accepts, and the protocol refuses one counting more than the inferences', () => {
    const stats = new InferenceStats();
    stats.record('a'.repeat(64), true, 3, 0.6);
    const window = stats.takeWindow('a'.repeat(64));
    const heartbeat = (inferences: number) => ({
      v: 1, id: crypto.randomUUID(), ts: new Date().toISOString(), seq: 1, model: null, uptimeS: 1, cpu: 0, memMb: 1, freeDiskMb: 1,
      inferences, errors: 0, latencyMs: window.latencyMs, latencyHistogram: window.latencyHistogram, confidenceHistogram: window.confidenceHistogram,
    });
    expect(heartbeatMessage.safeParse(heartbeat(window.inferences)).success).toBe(true);
    expect(heartbeatMessage.safeParse(heartbeat(0)).success).toBe(false);
  });
});
