import { describe, expect, it } from '@jest/globals';
import { computeReferenceStats } from '#protocol';
import { DriftMonitor } from './drift-monitor.js';

const model = { name: 'm', version: '1.0.0', variant: 'fp32', sha256: 'a'.repeat(64) };
const other = { ...model, version: '2.0.0' };
const noise = (seed: number, n: number, lo: number, hi: number) => {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
};
const reference = computeReferenceStats(Array.from({ length: 200 }, (_, i) => noise(i + 1, 16, 0, 1)), noise(999, 200, 0.5, 1), 10);

describe('DriftMonitor', () => {
  it('reports nothing before minSamples, then a low score for in-distribution traffic and a high one for shifted traffic', () => {
    const monitor = new DriftMonitor({ window: 100, minSamples: 20, valuesPerInput: 64 });
    monitor.adopt(model, reference);
    for (let i = 0; i < 19; i++) monitor.observe(model, noise(1000 + i, 16, 0, 1), 0.75);
    expect(monitor.score(model)).toBeUndefined();
    // minSamples is raised to what the 10-bin reference needs: 10 per degree of freedom, 90.
    for (let i = 19; i < 89; i++) monitor.observe(model, noise(1000 + i, 16, 0, 1), 0.5 + (i % 50) / 100);
    expect(monitor.score(model)).toBeUndefined();
    for (let i = 89; i < 100; i++) monitor.observe(model, noise(1000 + i, 16, 0, 1), 0.5 + (i % 50) / 100);
    const calm = monitor.score(model);
    expect(calm?.samples).toBe(100);
    expect(calm?.input).toBeLessThan(0.1);
    // The window slides: 100 shifted inputs replace the calm ones.
    for (let i = 0; i < 100; i++) monitor.observe(model, noise(5000 + i, 16, 2, 3), 0.99);
    const shifted = monitor.score(model);
    expect(shifted?.input).toBeGreaterThan(1);
    expect(shifted?.confidence).toBeGreaterThan(0.25);
  });

  it('keeps a strided copy of each input, not the input: a caller reusing its buffer changes nothing, and a wide input is not held', () => {
    const monitor = new DriftMonitor({ window: 50, minSamples: 10, valuesPerInput: 16 });
    monitor.adopt(model, reference);
    const buffer = new Float32Array(16);
    for (let i = 0; i < 50; i++) {
      buffer.set(noise(1000 + i, 16, 0, 1));
      monitor.observe(model, buffer, 0.75);
    }
    const calm = monitor.score(model);
    buffer.fill(3); // far outside the reference: would drift if the monitor had kept the buffer itself
    expect(monitor.score(model)).toEqual(calm);
    expect(calm?.input).toBeLessThan(0.25);
  });

  it('reports nothing for a model without reference statistics, and starts afresh on a swap', () => {
    const monitor = new DriftMonitor({ window: 50, minSamples: 10, valuesPerInput: 8 });
    monitor.adopt(model, reference);
    monitor.adopt(other, undefined);
    // A full window: the 10-bin reference asks for 90 samples, more than this window holds.
    for (let i = 0; i < 50; i++) monitor.observe(model, noise(i, 16, 0, 1), 0.7);
    expect(monitor.score(model)).toBeDefined();
    for (let i = 0; i < 20; i++) monitor.observe(other, noise(i, 16, 0, 1), 0.7);
    expect(monitor.score(other)).toBeUndefined();
    expect(monitor.score(model)).toBeUndefined(); // the window now belongs to `other`
  });

  it('takes a reference that arrives after the model started serving', () => {
    const monitor = new DriftMonitor({ window: 50, minSamples: 10, valuesPerInput: 8 });
    monitor.observe(model, noise(1, 16, 0, 1), 0.7);
    monitor.adopt(model, reference);
    for (let i = 0; i < 50; i++) monitor.observe(model, noise(i, 16, 0, 1), 0.7);
    expect(monitor.score(model)?.samples).toBe(50);
  });
});
