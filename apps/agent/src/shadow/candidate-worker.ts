/**
 * The shadow candidate's own thread (started by WorkerCandidate): loads the staged model, and the serving
 * model as the reference its time is compared with, with the same checks as serving (ModelLoader's
 * loadVerifiedSession), and runs them on the inputs it is sent. ONNX Runtime for Node runs a model
 * synchronously on the calling thread, so a candidate run on the agent's main thread would hold up every
 * request that arrives meanwhile; here it holds up only this thread.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createEngines, type InferenceSession } from '#inference';
import { loadVerifiedSession } from '../update/model-loader.js';
import { toStepFailure } from '../update/step-failure.js';
import type { CandidateRequest, CandidateWorkerData, CandidateWorkerMessage } from './worker-candidate.js';

if (!parentPort) throw new Error('candidate-worker runs as a worker thread (WorkerCandidate)');
const port = parentPort;
const data = workerData as CandidateWorkerData;
const post = (message: CandidateWorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/**
 * Lowers this thread's scheduling priority (Linux: nice applies per thread, and ONNX Runtime computes on
 * the calling thread with one intra-op thread), so when the cores are busy serving gets them first. Best
 * effort: where the thread's id is not readable the candidate runs at the agent's priority.
 */
function lowerPriority(nice: number): void {
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {
    // not Linux, or no procfs: same priority as serving
  }
}

/** Milliseconds `session` takes on `input`, and its output. */
async function timed(session: InferenceSession, input: Float32Array): Promise<{ output: Float32Array; ms: number }> {
  const start = performance.now();
  const output = await session.run(input);
  return { output, ms: performance.now() - start };
}

/**
 * One sample: the candidate, and the reference on the same input right before or after it (alternately,
 * so neither always finds the caches the other left). Same thread, same priority, same load: their ratio
 * is the candidate's cost, not the machine's (timed against the served request instead, identical models
 * read 1.6–3× under load).
 */
async function sample(candidate: InferenceSession, reference: InferenceSession | undefined, { id, input }: CandidateRequest): Promise<void> {
  let ran: { output: Float32Array; ms: number };
  let referenceMs: number | undefined;
  if (!reference) ran = await timed(candidate, input);
  else if (id % 2 === 0) {
    referenceMs = (await timed(reference, input)).ms;
    ran = await timed(candidate, input);
  } else {
    ran = await timed(candidate, input);
    referenceMs = (await timed(reference, input)).ms;
  }
  const output = Float32Array.from(ran.output); // the engine's buffer may be reused; the copy travels without another
  post({ kind: 'result', id, output, engineMs: ran.ms, ...(referenceMs === undefined ? {} : { referenceMs }) }, [output.buffer as ArrayBuffer]);
}

async function main(): Promise<void> {
  lowerPriority(data.nice);
  const engines = createEngines(data.onnx);
  let candidate: InferenceSession;
  try {
    candidate = await loadVerifiedSession(engines, data.candidate.path, data.candidate.manifest, data.candidate.where);
  } catch (error) {
    const failure = toStepFailure(error);
    return post({ kind: 'load-failed', reason: failure.reason, message: failure.message });
  }
  let reference: InferenceSession | undefined;
  let referenceError: string | undefined;
  if (data.reference) {
    try {
      reference = await loadVerifiedSession(engines, data.reference.path, data.reference.manifest, data.reference.where);
    } catch (error) {
      referenceError = error instanceof Error ? error.message : String(error);
    }
  }
  port.on('message', (request: CandidateRequest) => {
    sample(candidate, reference, request).catch((error: unknown) => post({ kind: 'run-failed', id: request.id, message: error instanceof Error ? error.message : String(error) }));
  });
  post({ kind: 'ready', ...(referenceError === undefined ? {} : { referenceError }) });
}

await main();
