import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { type InferenceSession, SessionHolder } from '#inference';
import { InferenceStats } from '../telemetry/inference-stats.js';
import { InferenceService, InferenceTimeoutError } from './inference-service.js';

const MODEL = { sha256: 'a'.repeat(64), name: 'm', version: '1.0.0', variant: 'fp32' };
const INPUT = Float32Array.of(1, 2, 3, 4);

/** An engine whose runs end only when the test says so; `started()` resolves when the next run begins. */
function controlledEngine() {
  const runs: Array<(output: Float32Array) => void> = [];
  const waiters: Array<() => void> = [];
  const session: InferenceSession = {
    run: () =>
      new Promise<Float32Array>((resolve) => {
        runs.push(resolve);
        waiters.shift()?.();
      }),
    dispose: async () => undefined,
  };
  const started = (count: number) => (runs.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)));
  return { session, runs, started };
}

describe('InferenceService under load', () => {
  let holder: SessionHolder;
  let stats: InferenceStats;
  let service: InferenceService;

  beforeEach(() => {
    holder = new SessionHolder();
    stats = new InferenceStats();
  });
  afterEach(async () => {
    service.close();
    jest.useRealTimers();
    await holder.close();
  });

  it('starts the time bound when the engine run starts: a request waiting its turn does not time out', async () => {
    jest.useFakeTimers();
    const engine = controlledEngine();
    await holder.swap(engine.session, MODEL);
    stats.resetSoak(MODEL.sha256);
    service = new InferenceService(holder, stats, () => undefined, { timeoutMs: 1000, maxInFlight: 4, concurrentRuns: 1 });

    const first = service.infer(INPUT).catch((error: unknown) => error);
    const second = service.infer(INPUT);
    await engine.started(1);
    await jest.advanceTimersByTimeAsync(1500);
    expect(await first).toBeInstanceOf(InferenceTimeoutError); // the stuck run is the model's failure
    expect(engine.runs).toHaveLength(1); // the second still waits: the engine is busy with the late run

    engine.runs[0]?.(Float32Array.of(1)); // the late run finally ends and frees the engine
    await engine.started(2);
    await jest.advanceTimersByTimeAsync(500);
    engine.runs[1]?.(Float32Array.of(0.2, 0.8));
    expect((await second).topClass).toBe(1);
    expect(stats.soak(MODEL.sha256)).toEqual({ successes: 1, errors: 1 });
  });
});
