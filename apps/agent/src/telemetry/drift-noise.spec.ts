import { describe, expect, it } from '@jest/globals';
import { computeReferenceStats, expectedNullPsi, populationStabilityIndex } from '#protocol';
import { DEFAULT_DRIFT, DriftMonitor } from './drift-monitor.js';

/**
 * The drift score's noise at the product defaults (agent DEFAULT_DRIFT, control plane
 * DRIFT_EVENT_THRESHOLD 0.25): a steady node, whose traffic is drawn from the very distribution of the
 * reference, must stay under the alarm in at least 99% of windows, and a real shift must still cross it.
 * Reference and traffic are seeded: the rates are the same on every run.
 */
const THRESHOLD = 0.25; // DRIFT_EVENT_THRESHOLD's default
const BINS = 20; // what the exporter writes (pipeline/src/reference-stats.ts)
const INPUTS = 16;
const TRIALS = 1000;

function lcg(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
const model = { name: 'm', version: '1.0.0', variant: 'fp32', sha256: 'a'.repeat(64) };
/** Training-like traffic: uniform inputs and confidences skewed towards 1, as a classifier's are. */
const input = (rand: () => number, shift = 0) => Float32Array.from({ length: INPUTS }, () => rand() + shift);
const confidence = (rand: () => number) => 0.5 + 0.5 * rand() ** 0.3;

const heldOut = lcg(7);
const inputs = Array.from({ length: 2000 }, () => input(heldOut));
const reference = computeReferenceStats(inputs, Float64Array.from(inputs, () => confidence(heldOut)), BINS);

/** The scores a fresh node reports for its first scorable window, over `trials` independent windows. */
function firstScores(trials: number, shift: number, settings = DEFAULT_DRIFT): number[] {
  const rand = lcg(12345);
  const scores: number[] = [];
  for (let t = 0; t < trials; t++) {
    const monitor = new DriftMonitor(settings);
    monitor.adopt(model, reference);
    let score;
    for (let n = 0; score === undefined && n < settings.window; n++) {
      monitor.observe(model, input(rand, shift), confidence(rand));
      score = monitor.score(model);
    }
    if (!score) throw new Error('no score within the window');
    scores.push(Math.max(score.input, score.confidence));
  }
  return scores;
}

const rate = (scores: number[]) => scores.filter((s) => s > THRESHOLD).length / scores.length;

describe('drift score noise at the defaults', () => {
  it('PSI of steady samples is about (bins − 1)/n, as the χ² approximation says', () => {
    const rand = lcg(99);
    for (const n of [100, 200, 500]) {
      let sum = 0;
      for (let t = 0; t < TRIALS; t++) {
        const counts = new Float64Array(BINS);
        for (let i = 0; i < n; i++) counts[Math.min(BINS - 1, Math.floor(rand() * BINS))]++;
        sum += populationStabilityIndex(new Array<number>(BINS).fill(1 / BINS), counts);
      }
      // Empty bins, floored before the logarithm, add a little on top of the χ² term at small n.
      expect(sum / TRIALS).toBeGreaterThan(0.9 * expectedNullPsi(BINS, n));
      expect(sum / TRIALS).toBeLessThan(1.3 * expectedNullPsi(BINS, n));
    }
  });

  it('a steady node stays under the 0.25 alarm in over 99% of windows at the defaults', () => {
    const scores = firstScores(TRIALS, 0);
    expect(rate(scores)).toBeLessThan(0.01);
  });

  it('the former default (minSamples 50, with no floor from the reference) alarmed on most steady windows', () => {
    // A reference of 2 bins asks for no more than 50 samples: the old behaviour, over 20-bin references.
    const scores = firstScores(200, 0, { ...DEFAULT_DRIFT, minSamples: 50, window: 50 });
    expect(rate(scores)).toBeGreaterThan(0.5);
  });

  it('a shift of a tenth of the input range is still caught in over 99% of windows', () => {
    expect(rate(firstScores(TRIALS, 0.1))).toBeGreaterThan(0.99);
  });
});
