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
   * Runs `input` on the current session. Written with `then` rather than async/await: this is every
   * request's path, and each async layer costs a promise and a microtask turn.
   */
  run(input: Float32Array): Promise<{ output: Float32Array; model: ServingModel }> {
    const holder = this.current;
    if (!holder) return Promise.reject(new NoModelLoadedError());
    holder.refs++;
    let running: Promise<Float32Array>;
    try {
      running = holder.session.run(input);
    } catch (error) {
      running = Promise.reject(error);
    }
    return running.then(
      (output) => {
        const result = { output, model: holder.model };
        const disposing = this.unref(holder);
        return disposing ? disposing.then(() => result) : result;
      },
      (error: unknown) => {
        const disposing = this.unref(holder);
        if (!disposing) throw error;
        return disposing.then(() => Promise.reject(error));
      },
    );
  }

  /** Drops a request's reference; the disposal of a retired session once its last request is done. */
  private unref(holder: Holder): Promise<void> | undefined {
    holder.refs--;
    return holder.retired && holder.refs === 0 ? holder.session.dispose() : undefined;
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
