import { describe, expect, it } from '@jest/globals';
import { type ShadowCandidate, ShadowEvaluator, ShadowTap } from './shadow-evaluator.js';

/** A candidate whose runs finish only when the test says so. */
function heldCandidate(output: number[]) {
  const pending: (() => void)[] = [];
  const session: ShadowCandidate = {
    run: () => new Promise((resolve) => pending.push(() => resolve({ output: Float32Array.from(output), engineMs: 3 }))),
    dispose: async () => undefined,
  };
  return { session, finishAll: () => pending.splice(0).forEach((f) => f()), started: () => pending.length };
}

const active = { output: Float32Array.from([0.1, 0.9]), latencyMs: 2 };
const run = { deploymentId: 'd', sha256: 'a'.repeat(64), sampleRate: 1 };
const flush = () => new Promise((r) => setImmediate(r));

describe('ShadowEvaluator', () => {
  it('runs at most one candidate inference at a time and skips sampled requests meanwhile', async () => {
    const c = heldCandidate([0.2, 0.8]);
    const deferred: (() => void)[] = [];
    const evaluator = new ShadowEvaluator(run, c.session, { random: () => 0, defer: (f) => deferred.push(f) });
    evaluator.offer(new Float32Array(2), active);
    evaluator.offer(new Float32Array(2), active);
    evaluator.offer(new Float32Array(2), active);
    // Nothing runs on the request's own turn: only once the deferred turn comes.
    expect(c.started()).toBe(0);
    deferred.splice(0).forEach((f) => f());
    expect(c.started()).toBe(1);
    c.finishAll();
    await flush();
    evaluator.offer(new Float32Array(2), active);
    deferred.splice(0).forEach((f) => f());
    c.finishAll();
    await evaluator.stop();
    expect(evaluator.figures()).toMatchObject({ samples: 2, agreed: 2, skipped: 2, errors: 0 });
  });

  it('samples at the given rate and counts a candidate that throws as an error', async () => {
    const draws = [0.05, 0.5, 0.09, 0.95];
    const session: ShadowCandidate = { run: () => Promise.reject(new Error('boom')), dispose: async () => undefined };
    const evaluator = new ShadowEvaluator({ ...run, sampleRate: 0.1 }, session, { random: () => draws.shift() ?? 1, defer: (f) => f() });
    for (let i = 0; i < 4; i++) {
      evaluator.offer(new Float32Array(2), active);
      await flush();
    }
    expect(evaluator.figures()).toMatchObject({ samples: 0, errors: 2, skipped: 0 });
  });

  it('takes no sample once stopped, and stop waits for the run in flight', async () => {
    const c = heldCandidate([0.9, 0.1]);
    const tap = new ShadowTap();
    const evaluator = new ShadowEvaluator(run, c.session, { random: () => 0, defer: (f) => f() });
    await tap.begin(evaluator);
    tap.offer(new Float32Array(2), active);
    let ended = false;
    const ending = tap.end().then(() => (ended = true));
    await flush();
    expect(ended).toBe(false);
    c.finishAll();
    await ending;
    tap.offer(new Float32Array(2), active);
    expect(c.started()).toBe(0);
    expect(evaluator.figures()).toMatchObject({ samples: 1, agreed: 0 });
  });

  it('counts a candidate run past its timeout as an error, stops waiting for it, and starts no other run until it settles', async () => {
    const c = heldCandidate([0.2, 0.8]);
    const timers: (() => void)[] = [];
    const clock = { random: () => 0, defer: (f: () => void) => f(), after: (_ms: number, fire: () => void) => (timers.push(fire), () => undefined) };
    const evaluator = new ShadowEvaluator(run, c.session, clock, { inferenceTimeoutMs: 50 });
    evaluator.offer(new Float32Array(2), active);
    timers.splice(0).forEach((fire) => fire()); // the candidate hangs past its timeout
    await evaluator.stop(); // bounded: does not wait for the hung run
    expect(evaluator.figures()).toMatchObject({ samples: 0, errors: 1 });
    const again = new ShadowEvaluator(run, c.session, clock, { inferenceTimeoutMs: 50 });
    again.offer(new Float32Array(2), active);
    timers.splice(0).forEach((fire) => fire());
    again.offer(new Float32Array(2), active); // the hung run has not settled: skipped, not piled on
    expect(c.started()).toBe(2);
    c.finishAll(); // the late answers are not counted as samples
    await flush();
    again.offer(new Float32Array(2), active);
    expect(c.started()).toBe(1); // settled: the next sample runs
    expect(again.figures()).toMatchObject({ samples: 0, errors: 1, skipped: 1 });
  });

  it("counts a run past its timeout as skipped, not as the candidate's error, when its thread mostly waited for a core", async () => {
    const c = heldCandidate([0.2, 0.8]);
    let waitedMs: number | undefined = 1_000;
    const timers: (() => void)[] = [];
    const clock = { random: () => 0, defer: (f: () => void) => f(), after: (_ms: number, fire: () => void) => (timers.push(fire), () => undefined) };
    const evaluator = new ShadowEvaluator(run, { ...c.session, runQueueWaitMs: () => waitedMs }, clock, { inferenceTimeoutMs: 50 });
    const timeOut = async (waited: number | undefined) => {
      evaluator.offer(new Float32Array(2), active);
      waitedMs = waited;
      timers.splice(0).forEach((fire) => fire());
      c.finishAll(); // settles late: the next sample may run
      await flush();
    };
    await timeOut(1_025); // waited half the bound for a core: starved
    expect(evaluator.figures()).toMatchObject({ samples: 0, errors: 0, skipped: 1 });
    await timeOut(1_049); // waited less: the candidate itself is slow, looping or blocked
    expect(evaluator.figures()).toMatchObject({ samples: 0, errors: 1, skipped: 1 });
    await timeOut(undefined); // the wait cannot be read (the thread ended, no schedstat): no excuse
    await evaluator.stop();
    expect(evaluator.figures()).toMatchObject({ samples: 0, errors: 2, skipped: 1 });
  });

  it('keeps a timed-out run that is still inside the engine known after it stopped, until it returns', async () => {
    const c = heldCandidate([0.2, 0.8]);
    const timers: (() => void)[] = [];
    const clock = { random: () => 0, defer: (f: () => void) => f(), after: (_ms: number, fire: () => void) => (timers.push(fire), () => undefined) };
    const evaluator = new ShadowEvaluator(run, c.session, clock, { inferenceTimeoutMs: 50 });
    expect(evaluator.overdueRun()).toBeUndefined();
    evaluator.offer(new Float32Array(2), active);
    timers.splice(0).forEach((fire) => fire()); // the candidate hangs past its timeout
    await evaluator.stop(); // bounded
    const overdue = evaluator.overdueRun();
    expect(overdue).toBeDefined();
    let returned = false;
    void overdue?.then(() => (returned = true));
    await flush();
    expect(returned).toBe(false);
    c.finishAll();
    await flush();
    await flush();
    expect(returned).toBe(true);
    expect(evaluator.overdueRun()).toBeUndefined();
  });

  it("tallies the candidate's own engine time against the serving model's latency", async () => {
    const c = heldCandidate([0.2, 0.8]);
    const evaluator = new ShadowEvaluator(run, c.session, { random: () => 0, defer: (f) => f() });
    evaluator.offer(new Float32Array(2), active); // served in 2 ms; the candidate's engine took 3 ms
    c.finishAll();
    await evaluator.stop();
    expect(evaluator.figures()).toMatchObject({ activeLatencyMs: 2 });
    expect(evaluator.figures().candidateLatencyMs).toBeCloseTo(3, 12);
  });

  it("tallies the candidate's time against the serving model's time beside it on its thread when there is one, not the served request's", async () => {
    const candidate: ShadowCandidate = { run: async () => ({ output: Float32Array.from([0.2, 0.8]), engineMs: 3, referenceMs: 1 }), dispose: async () => undefined };
    const evaluator = new ShadowEvaluator(run, candidate, { random: () => 0, defer: (f) => f() });
    evaluator.offer(new Float32Array(2), active); // served in 2 ms
    await evaluator.stop();
    expect(evaluator.figures()).toMatchObject({ samples: 1, activeLatencyMs: 1 });
    expect(evaluator.figures().candidateLatencyMs).toBeCloseTo(3, 12);
  });
});
