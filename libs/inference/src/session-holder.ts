import type { InferenceSession } from './engine.js';

export interface ServingModel {
  readonly sha256: string;
  readonly name: string;
  readonly version: string;
  readonly variant: string;
}

interface Holder {
  readonly session: InferenceSession;
  readonly model: ServingModel;
  refs: number;
  retired: boolean;
}

/** One run on the session that was current when it started (`SessionHolder.start`). */
export interface ServingRun {
  /** The model the run is on. */
  readonly model: ServingModel;
  /** The engine's own promise of the output. */
  readonly output: Promise<Float32Array>;
  /**
   * Drops the run's reference once `output` has settled (later calls do nothing). Returns the disposal
   * of a retired session whose last run this was: the caller may wait for it, as `run()` does.
   */
  finish(): Promise<void> | undefined;
}

/** A class rather than a closure per run: one object per request. */
class HeldRun implements ServingRun {
  private finished = false;

  constructor(
    private readonly holder: Holder,
    readonly output: Promise<Float32Array>,
  ) {}

  get model(): ServingModel {
    return this.holder.model;
  }

  finish(): Promise<void> | undefined {
    if (this.finished) return undefined;
    this.finished = true;
    this.holder.refs--;
    return this.holder.retired && this.holder.refs === 0 ? this.holder.session.dispose() : undefined;
  }
}

export class NoModelLoadedError extends Error {
  constructor() {
    super('no model is loaded');
    this.name = 'NoModelLoadedError';
  }
}

/**
 * The serving pointer (TF Serving / Triton semantics): each request takes a reference to the current
 * session; `swap` installs an already loaded and warmed session in one assignment; a retired session is
 * disposed when its last in-flight request finishes. No request ever sees a disposed session.
 */
export class SessionHolder {
  private current?: Holder;

  get model(): ServingModel | undefined {
    return this.current?.model;
  }

  /** The digest of the bytes the serving session's engine loaded (what the node attests), when known. */
  get loadedSha256(): string | undefined {
    return this.current?.session.loadedSha256;
  }

  /**
   * Starts `input` on the current session and hands back the engine's own promise, with nothing layered
   * on it (every request's path: each layer costs a promise and a microtask turn). The caller calls
   * `finish()` once the output has settled. Throws NoModelLoadedError without a model.
   */
  start(input: Float32Array): ServingRun {
    const holder = this.current;
    if (!holder) throw new NoModelLoadedError();
    holder.refs++;
    let output: Promise<Float32Array>;
    try {
      output = holder.session.run(input);
    } catch (error) {
      output = Promise.reject(error);
    }
    return new HeldRun(holder, output);
  }

  /** Runs `input` on the current session; settles after the disposal of a retired session whose last run it was. */
  run(input: Float32Array): Promise<{ output: Float32Array; model: ServingModel }> {
    let run: ServingRun;
    try {
      run = this.start(input);
    } catch (error) {
      return Promise.reject(error);
    }
    return run.output.then(
      (output) => {
        const result = { output, model: run.model };
        const disposing = run.finish();
        return disposing ? disposing.then(() => result) : result;
      },
      (error: unknown) => {
        const disposing = run.finish();
        if (!disposing) throw error;
        return disposing.then(() => Promise.reject(error));
      },
    );
  }

  /** Makes `session` the one new requests use; returns once the previous one is retired. */
  async swap(session: InferenceSession, model: ServingModel): Promise<void> {
    const previous = this.current;
    this.current = { session, model, refs: 0, retired: false };
    if (!previous) return;
    previous.retired = true;
    if (previous.refs === 0) await previous.session.dispose();
  }

  async close(): Promise<void> {
    const holder = this.current;
    this.current = undefined;
    if (holder) {
      holder.retired = true;
      if (holder.refs === 0) await holder.session.dispose();
    }
  }
}
