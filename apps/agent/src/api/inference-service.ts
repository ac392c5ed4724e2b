import { performance } from 'node:perf_hooks';
import { InputSizeError, NoModelLoadedError, type ServingModel, type SessionHolder } from '#inference';
import type { InferenceStats } from '../telemetry/inference-stats.js';

export interface InferenceAnswer {
  readonly output: Float32Array;
  readonly topClass: number;
  readonly confidence: number;
  readonly latencyMs: number;
  readonly model: ServingModel;
}

/** What the results outbox keeps of one served inference. */
export interface InferenceRecord {
  readonly modelSha256: string;
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
  return !(error instanceof InputSizeError || error instanceof NoModelLoadedError);
}

/**
 * One inference on the serving session: bounded in time, checked for finite outputs, recorded in the
 * stats the soak and the heartbeat read (model failures only), and handed to the results outbox.
 */
export class InferenceService {
  constructor(
    private readonly holder: SessionHolder,
    private readonly stats: InferenceStats,
    private readonly onResult: (record: InferenceRecord) => void,
    private readonly timeoutMs: number,
  ) {}

  async infer(input: Float32Array, inputRef?: string): Promise<InferenceAnswer> {
    const start = performance.now();
    // The holder picks its session synchronously when run() is called: this is the model the request runs on.
    const serving = this.holder.model;
    let answer: InferenceAnswer;
    try {
      const { output, model } = await this.bounded(this.holder.run(input));
      const topClass = argmaxOfFinite(output);
      answer = { output, topClass, confidence: output[topClass] as number, latencyMs: performance.now() - start, model };
    } catch (error) {
      if (isModelFailure(error)) this.stats.record(serving?.sha256, false, performance.now() - start);
      throw error;
    }
    this.stats.record(answer.model.sha256, true, answer.latencyMs);
    this.onResult({ modelSha256: answer.model.sha256, inputRef, topClass: answer.topClass, confidence: answer.confidence, latencyMs: answer.latencyMs });
    return answer;
  }

  /** Engines cannot be interrupted: a late run still finishes (and releases its session), its answer is dropped. */
  private bounded<T>(run: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new InferenceTimeoutError(this.timeoutMs)), this.timeoutMs);
    });
    return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
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
