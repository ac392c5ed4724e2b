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

  async run(input: Float32Array): Promise<{ output: Float32Array; model: ServingModel }> {
    const holder = this.current;
    if (!holder) throw new NoModelLoadedError();
    holder.refs++;
    try {
      return { output: await holder.session.run(input), model: holder.model };
    } finally {
      holder.refs--;
      if (holder.retired && holder.refs === 0) await holder.session.dispose();
    }
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
