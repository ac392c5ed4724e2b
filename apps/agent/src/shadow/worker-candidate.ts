import { Worker } from 'node:worker_threads';
import type { OnnxOptions } from '#inference';
import type { FailureReason } from '#protocol';
import type { ModelManifest } from '#trust';
import { StepFailure } from '../update/step-failure.js';
import type { ShadowCandidate } from './shadow-evaluator.js';
import { runQueueWaitMs } from './thread-scheduling.js';

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
}
export interface CandidateRequest {
  readonly id: number;
  readonly input: Float32Array;
}
export type CandidateWorkerMessage =
  | { readonly kind: 'ready'; readonly threadId?: number; readonly referenceError?: string; readonly priorityError?: string }
  | { readonly kind: 'load-failed'; readonly reason: FailureReason; readonly message: string }
  | { readonly kind: 'result'; readonly id: number; readonly output: Float32Array; readonly engineMs: number; readonly referenceMs?: number }
  | { readonly kind: 'run-failed'; readonly id: number; readonly message: string };

type CandidateRun = Awaited<ReturnType<ShadowCandidate['run']>>;

interface PendingRun {
  readonly resolve: (value: CandidateRun) => void;
  readonly reject: (error: Error) => void;
}

export interface StartOptions {
  /** A newer deployment: the load is abandoned (the thread terminated) and `start` rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** The load is abandoned past this (the self-test loaded the same bytes on the main thread already). */
  readonly timeoutMs: number;
  /** The built worker; tests of the sources pass dist's path. */
  readonly script?: URL | string;
}

/** The built worker next to this module (dist/…/candidate-worker.js). */
const DEFAULT_SCRIPT = new URL('./candidate-worker.js', import.meta.url);
/** How long a new shadow thread waits for terminated ones to exit before it refuses to start. */
const LINGER_WAIT_MS = 2_000;

/**
 * Threads terminated but not exited yet. `terminate()` cannot interrupt native code: a candidate stuck in
 * its engine keeps its thread (and memory, and maybe a core) until the engine returns, and the process
 * cannot exit before it. A new shadow thread is refused while one lingers, so stuck threads never pile up.
 */
const lingering = new Set<Promise<void>>();

/**
 * The shadow candidate on its own worker thread (candidate-worker.ts), loaded from the staged slot's file
 * with the checks serving applies; the serving model is loaded there too, as the reference each candidate
 * run is timed against. Runs never block the agent's main thread, where requests are served. Costs a V8
 * isolate and a second load of both models for the shadow phase, and a reference run per sample.
 */
export class WorkerCandidate implements ShadowCandidate {
  private readonly pending = new Map<number, PendingRun>();
  private nextId = 0;
  private stopped?: Error;

  private constructor(
    private readonly worker: Worker,
    /** Why the reference did not load (the candidate is then timed against the served requests), if it did not. */
    readonly referenceError: string | undefined,
    /** What the thread could not do to yield the CPU to serving (thread-scheduling.ts), if anything. */
    readonly priorityError: string | undefined,
    /** The thread's id (Linux), for its wait for a CPU. */
    readonly threadId: number | undefined,
  ) {
    worker.on('message', (message: CandidateWorkerMessage) => this.settle(message));
    worker.on('error', (error) => this.stop(new Error(`the shadow candidate's thread failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => this.stop(new Error(`the shadow candidate's thread exited (code ${code})`)));
  }

  /**
   * Starts the thread and waits for the model to load. A load failure is a StepFailure with the loader's
   * reason; so is a load past `timeoutMs`, or a thread of an earlier phase still stuck in its engine.
   */
  static async start(data: CandidateWorkerData, options: StartOptions): Promise<WorkerCandidate> {
    if (lingering.size > 0) await Promise.race([Promise.all(lingering), new Promise((resolve) => setTimeout(resolve, LINGER_WAIT_MS).unref())]);
    if (lingering.size > 0) throw new StepFailure('shadow-failed', 'an earlier shadow candidate is still stuck in its engine; restart the agent to free its thread');
    options.signal?.throwIfAborted();
    const worker = new Worker(options.script ?? DEFAULT_SCRIPT, { workerData: data });
    worker.unref();
    return new Promise<WorkerCandidate>((resolve, reject) => {
      const fail = (error: Error) => {
        cleanup();
        terminate(worker);
        reject(error);
      };
      const onAbort = () => fail(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
      const onExit = (code: number) => fail(new StepFailure('model-load-failed', `the shadow candidate's thread exited (code ${code}) before loading the model`));
      const onError = (error: Error) => fail(new StepFailure('model-load-failed', `the shadow candidate's thread failed: ${error.message}`, { cause: error }));
      const timer = setTimeout(() => fail(new StepFailure('model-load-failed', `the shadow candidate did not load within ${Math.round(options.timeoutMs / 1000)} s`)), options.timeoutMs);
      const onMessage = (message: CandidateWorkerMessage) => {
        if (message.kind === 'ready') {
          cleanup();
          return resolve(new WorkerCandidate(worker, message.referenceError, message.priorityError, message.threadId));
        }
        fail(message.kind === 'load-failed' ? new StepFailure(message.reason, message.message) : new StepFailure('internal', `unexpected '${message.kind}' from the shadow candidate's thread`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        worker.off('error', onError).off('exit', onExit).off('message', onMessage);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      worker.on('error', onError).once('exit', onExit).once('message', onMessage);
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

  runQueueWaitMs(): number | undefined {
    return this.threadId === undefined ? undefined : runQueueWaitMs(this.threadId);
  }

  /** Terminates the thread without waiting for it: a run stuck in native code keeps it until the engine returns (see `lingering`). */
  async dispose(): Promise<void> {
    this.stop(new Error('the shadow candidate was disposed'));
    terminate(this.worker);
  }

  private settle(message: CandidateWorkerMessage): void {
    if (message.kind !== 'result' && message.kind !== 'run-failed') return;
    const run = this.pending.get(message.id);
    if (!run) return;
    this.pending.delete(message.id);
    if (message.kind === 'run-failed') return run.reject(new Error(message.message));
    run.resolve({ output: message.output, engineMs: message.engineMs, ...(message.referenceMs === undefined ? {} : { referenceMs: message.referenceMs }) });
  }

  /** Every run still waiting fails with `reason`, and so does every later one. */
  private stop(reason: Error): void {
    this.stopped ??= reason;
    for (const run of this.pending.values()) run.reject(reason);
    this.pending.clear();
  }
}

/** Terminates `worker`, keeping it in `lingering` until its thread has really exited. */
function terminate(worker: Worker): void {
  worker.on('error', () => undefined); // nothing is listening any more: an error now must not crash the agent
  const exited = worker
    .terminate()
    .then(
      () => undefined,
      () => undefined,
    )
    .finally(() => lingering.delete(exited));
  lingering.add(exited);
}
