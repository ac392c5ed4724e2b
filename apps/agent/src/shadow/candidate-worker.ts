/**
 * The shadow candidate's own thread (started by WorkerCandidate): loads the staged model with the same
 * checks as serving (ModelLoader's loadVerifiedSession) and runs it on the inputs it is sent. ONNX Runtime
 * for Node runs a model synchronously on the calling thread, so a candidate run on the agent's main thread
 * would hold up every request that arrives meanwhile; here it holds up only this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createEngines } from '#inference';
import { loadVerifiedSession } from '../update/model-loader.js';
import { toStepFailure } from '../update/step-failure.js';
import type { CandidateRequest, CandidateWorkerData, CandidateWorkerMessage } from './worker-candidate.js';

const port = parentPort;
if (!port) throw new Error('candidate-worker runs as a worker thread (WorkerCandidate)');
const data = workerData as CandidateWorkerData;
const post = (message: CandidateWorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

try {
  const session = await loadVerifiedSession(createEngines(data.onnx), data.path, data.manifest, data.where);
  port.on('message', ({ id, input }: CandidateRequest) => {
    const start = performance.now();
    session.run(input).then(
      (output) => {
        const engineMs = performance.now() - start;
        const copy = Float32Array.from(output); // the engine's buffer may be reused; the copy travels without another
        post({ kind: 'result', id, output: copy, engineMs }, [copy.buffer as ArrayBuffer]);
      },
      (error: unknown) => post({ kind: 'run-failed', id, message: error instanceof Error ? error.message : String(error) }),
    );
  });
  post({ kind: 'ready' });
} catch (error) {
  const failure = toStepFailure(error);
  post({ kind: 'load-failed', reason: failure.reason, message: failure.message });
}
