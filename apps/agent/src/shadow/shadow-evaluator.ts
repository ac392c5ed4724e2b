import type { InferenceSession } from '#inference';
import { type ShadowFigures, ShadowTally } from './shadow-math.js';

export interface ShadowRun {
  readonly deploymentId: string;
  /** The candidate's digest. */
  readonly sha256: string;
  readonly sampleRate: number;
}

/** Hooks for tests: the sampling draw and when a shadow run starts (by default after the current I/O turn). */
export interface ShadowClock {
  readonly random: () => number;
  readonly defer: (run: () => void) => void;
  readonly now: () => number;
}

const DEFAULT_CLOCK: ShadowClock = { random: Math.random, defer: (run) => void setImmediate(run), now: () => performance.now() };

/**
 * Runs a candidate beside the serving model on a sample of served requests. Off the request path: a
 * sampled request's input is run on the candidate only after its answer went out (`defer`: the local API
 * writes the response in the promise continuation that precedes it), and never answers anyone. The CPU
 * it takes is bounded: at most one candidate run in flight; a request sampled meanwhile is skipped
 * (counted), never queued.
 */
export class ShadowEvaluator {
  readonly startedAt = new Date();
  private readonly tally = new ShadowTally();
  private inFlight?: Promise<void>;
  private stopped = false;

  constructor(
    readonly run: ShadowRun,
    private readonly candidate: InferenceSession,
    private readonly clock: ShadowClock = DEFAULT_CLOCK,
  ) {}

  /** A request the serving model answered: maybe shadowed. Never throws, never waits. */
  offer(input: Float32Array, active: { readonly output: Float32Array; readonly latencyMs: number }): void {
    if (this.stopped || this.clock.random() >= this.run.sampleRate) return;
    if (this.inFlight) return this.tally.skip();
    // Copies: the caller's buffers are its own once this returns (an engine may reuse them).
    const sample = Float32Array.from(input);
    const answer = Float32Array.from(active.output);
    let done!: () => void;
    this.inFlight = new Promise<void>((resolve) => (done = resolve));
    this.clock.defer(() => {
      const start = this.clock.now();
      this.candidate.run(sample).then(
        (output) => this.tally.add(answer, output, active.latencyMs, this.clock.now() - start),
        () => this.tally.error(),
      ).finally(() => {
        this.inFlight = undefined;
        done();
      });
    });
  }

  figures(): ShadowFigures {
    return this.tally.figures();
  }

  /** No more samples; resolves once the run in flight (if any) ended, so the session can change hands. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.inFlight;
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

  /** Ends the run in progress, waiting for its candidate run in flight; the figures stay with the evaluator. */
  async end(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await current?.stop();
  }
}
