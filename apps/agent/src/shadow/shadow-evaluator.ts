import { type ShadowFigures, ShadowTally } from './shadow-math.js';

/** The candidate as a shadow run sees it (WorkerCandidate; fakes in tests). */
export interface ShadowCandidate {
  /**
   * The candidate's output, its engine's time (no thread hops counted) and, when there is one, the serving
   * model's time on the same input, timed alike.
   */
  run(input: Float32Array): Promise<{ readonly output: Float32Array; readonly engineMs: number; readonly referenceMs?: number }>;
  /** Frees the candidate; never waits for a run still inside its engine. */
  dispose(): Promise<void>;
  /**
   * How long its thread has waited, runnable, for a CPU so far, in ms, where the platform tells (Linux);
   * never throws. A run past its timeout that mostly waited for a core was starved, not slow (`shadowOne`).
   */
  runQueueWaitMs?(): number | undefined;
}

export interface ShadowRun {
  readonly deploymentId: string;
  /** The candidate's digest. */
  readonly sha256: string;
  readonly sampleRate: number;
}

/** Hooks for tests: the sampling draw, when a shadow run starts (by default after the current I/O turn) and timers. */
export interface ShadowClock {
  readonly random: () => number;
  readonly defer: (run: () => void) => void;
  /** Calls `fire` after `ms` unless the returned cancel runs first (default: setTimeout). */
  readonly after?: (ms: number, fire: () => void) => () => void;
}

const DEFAULT_CLOCK: ShadowClock = { random: Math.random, defer: (run) => void setImmediate(run) };

const timer = (ms: number, fire: () => void): (() => void) => {
  const handle = setTimeout(fire, ms);
  return () => clearTimeout(handle);
};

/** Bounds on the candidate's runs (agent config `shadow`). */
export interface ShadowLimits {
  /**
   * One sample (the candidate's run and the reference's beside it) longer than this is no longer waited
   * for, and counts as a candidate error unless its thread mostly waited for a core (`shadowOne`).
   */
  readonly inferenceTimeoutMs: number;
}

export const DEFAULT_SHADOW_LIMITS: ShadowLimits = { inferenceTimeoutMs: 5_000 };

/**
 * Runs a candidate beside the serving model on a sample of served requests. Off the request path: the
 * candidate runs on its own thread (WorkerCandidate), a sampled request's input is sent there only after
 * its answer went out (`defer`: the local API writes the response in the promise continuation that
 * precedes it), and it never answers anyone. The CPU
 * it takes is bounded: at most one candidate run in flight; a request sampled meanwhile is skipped
 * (counted), never queued. A run past `inferenceTimeoutMs` counts as an error against the candidate
 * (as skipped when its thread was starved of CPU, `shadowOne`) and is no longer waited for (so `stop` is
 * bounded too), but no other run starts until it has settled: a hung engine is not given more work.
 */
export class ShadowEvaluator {
  readonly startedAt = new Date();
  private readonly tally = new ShadowTally();
  private inFlight?: Promise<void>;
  /** A run that timed out and has not settled yet. */
  private overdue?: Promise<unknown>;
  private stopped = false;

  constructor(
    readonly run: ShadowRun,
    readonly candidate: ShadowCandidate,
    private readonly clock: ShadowClock = DEFAULT_CLOCK,
    private readonly limits: ShadowLimits = DEFAULT_SHADOW_LIMITS,
  ) {}

  /** A request the serving model answered: maybe shadowed. Never throws, never waits. */
  offer(input: Float32Array, active: { readonly output: Float32Array; readonly latencyMs: number }): void {
    if (this.stopped || this.clock.random() >= this.run.sampleRate) return;
    if (this.inFlight || this.overdue) return this.tally.skip();
    // Copies: the caller's buffers are its own once this returns (an engine may reuse them).
    const sample = Float32Array.from(input);
    const answer = Float32Array.from(active.output);
    let done!: () => void;
    this.inFlight = new Promise<void>((resolve) => (done = resolve));
    this.clock.defer(() => this.shadowOne(sample, answer, active.latencyMs, done));
  }

  /**
   * One candidate run: tallied when it settles, or at the timeout (whichever comes first). At the timeout,
   * a run whose thread waited, runnable, for a core for half the bound or more was starved: its thread
   * yields the CPU to everything else (thread-scheduling.ts), and a busy device must not fail a candidate
   * that did not get to run. It is counted as skipped. Any other timed-out run is the candidate's error:
   * slow, looping, or blocked (a thread blocked or deadlocked does not wait for a core, so it is no excuse).
   */
  private shadowOne(sample: Float32Array, answer: Float32Array, activeLatencyMs: number, done: () => void): void {
    const waitAtStart = this.candidate.runQueueWaitMs?.();
    let timedOut = false;
    let cancel = (): void => undefined;
    const finish = () => {
      cancel();
      this.inFlight = undefined;
      done();
    };
    const running = this.candidate.run(sample).then(
      ({ output, engineMs, referenceMs }) => {
        // Timed against the serving model's run beside it when the candidate's thread has one, else against the served request.
        if (!timedOut) this.tally.add(answer, output, referenceMs ?? activeLatencyMs, engineMs);
      },
      () => {
        if (!timedOut) this.tally.error();
      },
    );
    cancel = (this.clock.after ?? timer)(this.limits.inferenceTimeoutMs, () => {
      timedOut = true;
      const waitNow = waitAtStart === undefined ? undefined : this.candidate.runQueueWaitMs?.();
      const starved = waitAtStart !== undefined && waitNow !== undefined && waitNow - waitAtStart >= this.limits.inferenceTimeoutMs / 2;
      if (starved) this.tally.skip();
      else this.tally.error();
      const overdue = running.finally(() => {
        if (this.overdue === overdue) this.overdue = undefined;
      });
      this.overdue = overdue;
      finish();
    });
    void running.finally(() => {
      if (!timedOut) finish();
    });
  }

  figures(): ShadowFigures {
    return this.tally.figures();
  }

  /** No more samples; resolves once the run in flight (if any) ended or timed out, so the session can change hands. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.inFlight;
  }

  /** The run that timed out and is still inside the engine, settling when it returns; undefined if none. */
  overdueRun(): Promise<void> | undefined {
    return this.overdue?.then(
      () => undefined,
      () => undefined,
    );
  }
}

/**
 * Where the serving path meets the shadow run in progress (at most one, the update's): the inference
 * service offers every answered request, the update's shadow step starts and ends the run.
 */
export class ShadowTap {
  private current?: ShadowEvaluator;

  get evaluator(): ShadowEvaluator | undefined {
    return this.current;
  }

  offer(input: Float32Array, active: { readonly output: Float32Array; readonly latencyMs: number }): void {
    this.current?.offer(input, active);
  }

  /** Starts a run (ending any other first). */
  async begin(evaluator: ShadowEvaluator): Promise<void> {
    await this.end();
    this.current = evaluator;
  }

  /** Ends the run in progress, waiting for its candidate run in flight (or its timeout); the figures stay with the evaluator. */
  async end(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await current?.stop();
  }
}
