import { Worker } from 'node:worker_threads';
import type { OnnxOptions } from '#inference';
import type { FailureReason } from '#protocol';
import type { ModelManifest } from '#trust';
import { StepFailure } from '../update/step-failure.js';

/** One candidate run: its output, its engine's time (no thread hops counted) and, when there is one, the serving model's time on the same input, timed alike. */
export interface CandidateRun {
  readonly output: Float32Array;
  readonly engineMs: number;
  readonly referenceMs?: number;
}

/** The candidate as a shadow run sees it. */
export interface ShadowCandidate {
  run(input: Float32Array): Promise<CandidateRun>;
  /** Frees the candidate; never waits for a run still inside its engine. */
  dispose(): Promise<void>;
}

/** A model file with its signed manifest; `where` names the file in errors (e.g. "slot b"). */
export interface ModelFile {
  readonly path: string;
  readonly manifest: ModelManifest;
  readonly where: string;
}

export interface CandidateWorkerData {
  readonly candidate: ModelFile;
  /** The serving model, run beside the candidate on each sample only to time both alike; none before a first install. */
  readonly reference?: ModelFile;
  readonly onnx: OnnxOptions;
  /** The thread's nice value (0–19): how far below serving it runs when the cores are busy. */
  readonly nice: number;
}
export interface CandidateRequest {
  readonly id: number;
  readonly input: Float32Array;
}
export type CandidateWorkerMessage =
  | { readonly kind: 'ready'; readonly referenceError?: string }
  | { readonly kind: 'load-failed'; readonly reason: FailureReason; readonly message: string }
  | ({ readonly kind: 'result'; readonly id: number } & CandidateRun)
  | { readonly kind: 'run-failed'; readonly id: number; readonly message: string };

interface PendingRun {
  readonly resolve: (value: CandidateRun) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The shadow thread's nice value. At 10 the kernel gives a busy serving thread (nice 0) about nine times
 * its share of a contended core; on idle cores the candidate runs at full speed.
 */
export const SHADOW_NICE = 10;

/** The built worker next to this module (dist/…/candidate-worker.js); tests of the sources pass the built path. */
const DEFAULT_SCRIPT = new URL('./candidate-worker.js', import.meta.url);

/**
 * The shadow candidate on its own worker thread (candidate-worker.ts), at a lower priority, loaded from
 * the staged slot's file with the checks serving applies; the serving model is loaded there too, as the
 * reference each candidate run is timed against. Runs never block the agent's main thread, where requests
 * are served. Costs a second load of both models (a V8 isolate and two engine sessions) for the shadow
 * phase only, and a reference run per sample. The thread does not keep the agent alive, and `dispose`
 * terminates it without waiting: a run stuck in native code stays on that thread, away from serving.
 */
export class WorkerCandidate implements ShadowCandidate {
  private readonly pending = new Map<number, PendingRun>();
  private nextId = 0;
  private stopped?: Error;

  private constructor(
    private readonly worker: Worker,
    /** Why the reference did not load (the candidate is then timed against the served requests), if it did not. */
    readonly referenceError: string | undefined,
  ) {
    worker.on('message', (message: CandidateWorkerMessage) => this.settle(message));
    worker.on('error', (error) => this.stop(new Error(`the shadow candidate's thread failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => this.stop(new Error(`the shadow candidate's thread exited (code ${code})`)));
  }

  /** Starts the thread and waits for the model to load; a load failure is a StepFailure with the loader's reason. */
  static start(data: CandidateWorkerData, script: URL | string = DEFAULT_SCRIPT): Promise<WorkerCandidate> {
    const worker = new Worker(script, { workerData: data });
    worker.unref();
    return new Promise<WorkerCandidate>((resolve, reject) => {
      const onExit = (code: number) => reject(new StepFailure('model-load-failed', `the shadow candidate's thread exited (code ${code}) before loading the model`));
      const onError = (error: Error) => {
        worker.off('exit', onExit);
        reject(new StepFailure('model-load-failed', `the shadow candidate's thread failed: ${error.message}`, { cause: error }));
      };
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', (message: CandidateWorkerMessage) => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (message.kind === 'ready') return resolve(new WorkerCandidate(worker, message.referenceError));
        void worker.terminate();
        reject(message.kind === 'load-failed' ? new StepFailure(message.reason, message.message) : new StepFailure('internal', `unexpected '${message.kind}' from the shadow candidate's thread`));
      });
    });
  }

  run(input: Float32Array): Promise<CandidateRun> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, input } satisfies CandidateRequest);
    });
  }

  async dispose(): Promise<void> {
    this.stop(new Error('the shadow candidate was disposed'));
    void this.worker.terminate().catch(() => undefined);
  }

  private settle(message: CandidateWorkerMessage): void {
    if (message.kind !== 'result' && message.kind !== 'run-failed') return;
    const run = this.pending.get(message.id);
    if (!run) return;
    this.pending.delete(message.id);
    if (message.kind === 'result') run.resolve({ output: message.output, engineMs: message.engineMs, ...(message.referenceMs === undefined ? {} : { referenceMs: message.referenceMs }) });
    else run.reject(new Error(message.message));
  }

  /** Every run still waiting fails with `reason`, and so does every later one. */
  private stop(reason: Error): void {
    this.stopped ??= reason;
    for (const run of this.pending.values()) run.reject(reason);
    this.pending.clear();
  }
}
