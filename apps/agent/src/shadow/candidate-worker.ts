/**
 * The shadow candidate's own thread (started by WorkerCandidate): loads the staged model, and the serving
 * model as the reference its time is compared with, with the same checks as serving (ModelLoader's
 * loadVerifiedSession), and runs them on the inputs it is sent. ONNX Runtime for Node runs a model
 * synchronously on the calling thread, so a candidate run on the agent's main thread would hold up every
 * request that arrives meanwhile; here it holds up only this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createEngines, type InferenceSession } from '#inference';
import { loadVerifiedSession } from '../update/model-loader.js';
import { toStepFailure } from '../update/step-failure.js';
import { currentThreadId, lowerThisThreadPriority, timeLessWait } from './thread-scheduling.js';
import type { CandidateRequest, CandidateWorkerData, CandidateWorkerMessage } from './worker-candidate.js';

if (!parentPort) throw new Error('candidate-worker runs as a worker thread (WorkerCandidate)');
const port = parentPort;
const data = workerData as CandidateWorkerData;
const post = (message: CandidateWorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/**
 * The output (copied at once: the engine's buffer may be reused by the next run) and the milliseconds
 * `session` took, less what this thread waited for a core meanwhile (it yields to everything else,
 * thread-scheduling.ts), so a busy device does not make either model look slow.
 */
async function timed(session: InferenceSession, input: Float32Array): Promise<{ output: Float32Array; ms: number }> {
  const { value: output, ms } = await timeLessWait(async () => Float32Array.from(await session.run(input)));
  return { output, ms };
}

/** The reference's time on `input`, or undefined when it failed: a serving model's failure is not the candidate's. */
async function referenceTime(reference: InferenceSession, input: Float32Array): Promise<number | undefined> {
  return timed(reference, input).then(
    ({ ms }) => ms,
    () => undefined,
  );
}

/**
 * One sample: the candidate, and the reference on the same input right before or after it (alternately,
 * so neither always finds the caches the other left). Same thread, same load: their ratio is the
 * candidate's cost, not the machine's (timed against the served request instead, identical models read
 * 1.4–5.7× under load). The main thread sends one sample at a time (ShadowEvaluator), so runs never overlap.
 */
async function sample(candidate: InferenceSession, reference: InferenceSession | undefined, { id, input }: CandidateRequest): Promise<void> {
  let ran: { output: Float32Array; ms: number };
  let referenceMs: number | undefined;
  if (!reference) ran = await timed(candidate, input);
  else if (id % 2 === 0) {
    referenceMs = await referenceTime(reference, input);
    ran = await timed(candidate, input);
  } else {
    ran = await timed(candidate, input);
    referenceMs = await referenceTime(reference, input);
  }
  post({ kind: 'result', id, output: ran.output, engineMs: ran.ms, ...(referenceMs === undefined ? {} : { referenceMs }) }, [ran.output.buffer as ArrayBuffer]);
}

async function main(): Promise<void> {
  const threadId = currentThreadId();
  const priorityError = lowerThisThreadPriority(threadId);
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
  post({ kind: 'ready', ...(threadId === undefined ? {} : { threadId }), ...(referenceError === undefined ? {} : { referenceError }), ...(priorityError === undefined ? {} : { priorityError }) });
}

await main();
