import { InputSizeError, NoModelLoadedError, type ServingModel, type ServingRun, type SessionHolder } from '#inference';
import { ResultRecordEncoder } from '#protocol';
import type { InferenceStats } from '../telemetry/inference-stats.js';
import { RunSlots } from './run-slots.js';

export interface InferenceAnswer {
  readonly output: Float32Array;
  readonly topClass: number;
  readonly confidence: number;
  readonly latencyMs: number;
  readonly model: ServingModel;
}

/** What the results outbox keeps of one served inference (formatted for the wire only when a batch is sent). */
export interface InferenceRecord {
  /** Epoch milliseconds. */
  readonly at: number;
  /** The model the answer came from (digest, name, version, variant): the same bytes can be several versions. */
  readonly model: ServingModel;
  readonly inputRef: string | undefined;
  readonly topClass: number;
  readonly confidence: number;
  readonly latencyMs: number;
}

/** The model did not answer within the per-request bound: counts against the model. */
export class InferenceTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the model did not answer within ${timeoutMs} ms`);
    this.name = 'InferenceTimeoutError';
  }
}

/** Too many requests already admitted: refused at once, never counted against the model. */
export class InferenceOverloadedError extends Error {
  constructor(
    readonly maxInFlight: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`${maxInFlight} requests already in flight; retry later`);
    this.name = 'InferenceOverloadedError';
  }
}

export interface InferenceLimits {
  /** A run not answered within this (counted from when its engine run starts) is a failed inference. */
  readonly timeoutMs: number;
  /** Requests admitted at once (running or waiting for an engine slot); beyond, 503. */
  readonly maxInFlight: number;
  /** Engine runs at once; admitted requests beyond wait, their time bound not yet started. */
  readonly concurrentRuns: number;
}

/** The model answered nothing, NaN or ±Infinity for a valid input: counts against the model. */
export class InvalidOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOutputError';
  }
}

/**
 * Whether a failed request counts against the serving model (and so can fail its soak). A caller's
 * input that does not fit the model, or no model at all, says nothing about the model; an engine that
 * throws on a valid input, a non-finite output or a timeout does.
 */
export function isModelFailure(error: unknown): boolean {
  return !(error instanceof InputSizeError || error instanceof NoModelLoadedError || error instanceof InferenceOverloadedError);
}

/**
 * One inference on the serving session: admitted only below the in-flight cap (a local flood is
 * refused, not queued into timeouts that would fail a soak), bounded in time from when its engine run
 * starts, checked for finite outputs, recorded in the
 * stats the soak and the heartbeat read (model failures only), and handed to the results outbox.
 */
export class InferenceService {
  private readonly deadlines = new InferenceDeadlines();
  private readonly slots: RunSlots;
  private inFlight = 0;

  constructor(
    private readonly holder: SessionHolder,
    private readonly stats: InferenceStats,
    /** Also given the input (not kept in the record): drift monitoring keeps a reference to it. */
    private readonly onResult: (record: InferenceRecord, input: Float32Array) => void,
    private readonly limits: InferenceLimits,
    /** Every answered request, after its result is recorded: the shadow evaluation's tap (it defers its own work). */
    private readonly onServed?: (input: Float32Array, answer: InferenceAnswer) => void,
  ) {
    this.slots = new RunSlots(limits.concurrentRuns);
  }

  /**
   * Written with `then` rather than async/await, and without waiting for a slot that is free: this is
   * every request's path, and each async layer costs a promise and a microtask turn.
   */
  infer(input: Float32Array, inputRef?: string): Promise<InferenceAnswer> {
    if (this.inFlight >= this.limits.maxInFlight) return Promise.reject(new InferenceOverloadedError(this.limits.maxInFlight, 1));
    this.inFlight++;
    if (this.slots.tryAcquire()) return this.runInSlot(input, inputRef);
    return this.slots.acquire().then(() => this.runInSlot(input, inputRef));
  }

  /**
   * Runs with an engine slot held. One promise per request, settled by whichever comes first: the
   * engine's run or the deadline sweep (the engine's promise is not wrapped layer by layer). The slot is
   * released when the engine run ends, even after a timeout; the request leaves the in-flight count when
   * it is answered.
   */
  private runInSlot(input: Float32Array, inputRef: string | undefined): Promise<InferenceAnswer> {
    const start = performance.now();
    let run: ServingRun;
    try {
      // The holder picks its session synchronously: this is the model the request runs on.
      run = this.holder.start(input);
    } catch (error) {
      this.slots.release();
      return Promise.reject(this.failed(error, undefined, start));
    }
    return new Promise<InferenceAnswer>((resolve, reject) => {
      const { timeoutMs } = this.limits;
      const deadline = this.deadlines.add(start + timeoutMs, () => reject(this.failed(new InferenceTimeoutError(timeoutMs), run.model.sha256, start)), timeoutMs);
      const fail = (error: unknown) => {
        if (this.deadlines.remove(deadline)) reject(this.failed(error, run.model.sha256, start));
      };
      const answer = (output: Float32Array) => {
        if (!this.deadlines.remove(deadline)) return; // answered already: timed out
        let topClass: number;
        try {
          topClass = argmaxOfFinite(output);
        } catch (error) {
          return reject(this.failed(error, run.model.sha256, start));
        }
        this.inFlight--;
        const model = run.model;
        const result: InferenceAnswer = { output, topClass, confidence: output[topClass] as number, latencyMs: performance.now() - start, model };
        this.stats.record(model.sha256, true, result.latencyMs, result.confidence);
        this.onResult({ at: Date.now(), model, inputRef, topClass, confidence: result.confidence, latencyMs: result.latencyMs }, input);
        resolve(result);
        this.onServed?.(input, result);
      };
      run.output.then(
        (output) => this.afterRun(run, answer, output, fail),
        (error: unknown) => this.afterRun(run, fail, error, fail),
      );
    });
  }

  /**
   * The run's reference dropped, then its engine slot, then `next(value)`: after the disposal of a
   * retired session whose last run this was (a failed disposal fails the request, as a failed run does).
   */
  private afterRun<T>(run: ServingRun, next: (value: T) => void, value: T, fail: (error: unknown) => void): void {
    const disposing = run.finish();
    if (!disposing) {
      this.slots.release();
      return next(value);
    }
    disposing.then(
      () => {
        this.slots.release();
        next(value);
      },
      (error: unknown) => {
        this.slots.release();
        fail(error);
      },
    );
  }

  /** A request ends without an answer: it leaves the in-flight count; a model failure is recorded. */
  private failed(error: unknown, modelSha256: string | undefined, start: number): unknown {
    this.inFlight--;
    if (isModelFailure(error)) this.stats.record(modelSha256, false, performance.now() - start);
    return error;
  }

  close(): void {
    this.deadlines.close();
  }
}

/** A request in flight with its deadline (`performance.now()` milliseconds). */
export interface Deadline {
  readonly at: number;
  readonly onTimeout: () => void;
}

/**
 * Time bounds for requests in flight without a timer per request (arming and clearing one costs more
 * than a small model's inference): one sweep, running only while requests are in flight, calls
 * `onTimeout` of the late ones. A request is refused at most its bound plus one sweep period after it
 * started. Engines cannot be interrupted: a late run still finishes (and releases its session); its
 * answer is dropped.
 */
export class InferenceDeadlines {
  private readonly pending = new Set<Deadline>();
  private sweeper?: NodeJS.Timeout;

  /** Registers a request ending by `at` (ms, `performance.now()` clock); `timeoutMs` sets the sweep period. */
  add(at: number, onTimeout: () => void, timeoutMs = 1000): Deadline {
    const entry: Deadline = { at, onTimeout };
    this.pending.add(entry);
    this.sweeper ??= setInterval(() => this.sweep(), Math.max(1, Math.min(100, timeoutMs / 4))).unref();
    return entry;
  }

  /** The request got its answer: true if it was still waiting (not timed out), and it no longer is. */
  remove(entry: Deadline): boolean {
    return this.pending.delete(entry);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private sweep(): void {
    if (this.pending.size === 0) return this.close(); // idle: no timer until the next request
    const now = performance.now();
    for (const entry of this.pending) {
      if (entry.at > now) continue;
      this.pending.delete(entry);
      entry.onTimeout();
    }
  }
}

/** The index of the largest output; throws InvalidOutputError on an empty output or NaN or ±Infinity anywhere. */
export function argmaxOfFinite(output: Float32Array): number {
  if (output.length === 0) throw new InvalidOutputError('the model produced an empty output');
  let top = 0;
  let best = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < output.length; i++) {
    const v = output[i] as number;
    if (!Number.isFinite(v)) throw new InvalidOutputError('the model produced a non-finite output');
    if (v > best) {
      best = v;
      top = i;
    }
  }
  return top;
}

/**
 * The results message's record for an inference, as JSON text: `seq` is node-scoped and increasing. Pass
 * the same `encoder` for a stream of records (it keeps the serving model's text and the current minute).
 */
export function resultRecord(seq: number, r: InferenceRecord, encoder: ResultRecordEncoder = new ResultRecordEncoder()): string {
  return encoder.encode({ seq, at: r.at, modelSha256: r.model.sha256, model: r.model, inputRef: r.inputRef, topClass: r.topClass, confidence: r.confidence, latencyMs: r.latencyMs });
}
