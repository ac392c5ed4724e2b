import { describe, expect, it } from '@jest/globals';
import { referenceStatsSchema } from '#protocol';
import { exportReferenceStats } from './reference-stats.js';

describe('exportReferenceStats', () => {
  it('bins raw pixel bytes (mostly 0, as MNIST) and each image\'s top-class confidence into statistics the manifest accepts', () => {
    const pixels = 784;
    const images = 300;
    const raw = new Uint8Array(images * pixels);
    for (let i = 0; i < raw.length; i++) raw[i] = i % 7 === 0 ? (i * 31) % 256 : 0;
    const outputs = new Float32Array(images * 10).fill(0.05);
    for (let i = 0; i < images; i++) outputs[i * 10 + (i % 10)] = 0.55;
    const stats = exportReferenceStats(raw, pixels, outputs, 10, 200);
    expect(referenceStatsSchema.parse(stats)).toEqual(stats);
    expect(stats.samples).toBe(200); // bounded to the images asked for
    expect(stats.input.bins.edges.filter((e) => e === 0)).toHaveLength(1); // the many zeros make one edge
    expect(stats.confidence.fractions.reduce((a, f) => a + f, 0)).toBeCloseTo(1, 6);
  });
});
