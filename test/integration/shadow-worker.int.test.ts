import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createEngines } from '#inference';
import type { ModelManifest } from '#trust';
import { WorkerCandidate } from '../../apps/agent/src/shadow/worker-candidate.js';
import { loadVerifiedSession } from '../../apps/agent/src/update/model-loader.js';
import { StepFailure } from '../../apps/agent/src/update/step-failure.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';

// The worker as it ships, in the agent's bundle (npm test builds first): ts-jest runs the sources, a
// worker thread runs JavaScript.
const SCRIPT = resolve('dist/agent/candidate-worker.js');
const START = { script: SCRIPT, timeoutMs: 60_000 };

/**
 * thread-scheduling.ts's lowerThisThreadPriority (chrt paths: a JavaScript expression) run in a thread of
 * its own with no environment, so this test's threads keep their priority; what it returned, and the
 * thread's policy and niceness after.
 */
async function lowerInThread(chrtPaths: string): Promise<{ problem?: string; policy: string; nice: string }> {
  const worker = new Worker(
    `import(${JSON.stringify(pathToFileURL(resolve('dist/apps/agent/src/shadow/thread-scheduling.js')).href)}).then((m) => {
      const problem = m.lowerThisThreadPriority(m.currentThreadId(), ${chrtPaths});
      const stat = require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ');
      require('node:worker_threads').parentPort.postMessage({ problem, policy: stat[38], nice: stat[16] });
    })`,
    { eval: true, env: {} },
  );
  try {
    return await new Promise((done, fail) => worker.once('message', done).once('error', fail));
  } finally {
    await worker.terminate();
  }
}

/** Each thread of this process (by thread id) as `<policy>/<nice>`, from /proc/self/task/<tid>/stat (fields 41 and 19). */
async function schedulingOfThreads(): Promise<Map<number, string>> {
  const policies: Record<string, string> = { '0': 'normal', '3': 'batch', '5': 'idle' };
  const threads = new Map<number, string>();
  for (const tid of await readdir('/proc/self/task')) {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => undefined); // a thread that just ended
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields) threads.set(Number(tid), `${policies[fields[38] as string] ?? fields[38]}/${fields[16]}`);
  }
  return threads;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const manifestFor = (bytes: Uint8Array, inputs: number): ModelManifest => ({
  type: 'model-manifest', name: 'm', version: '1.0.0', sequence: 1, variant: 'fp32', format: 'onnx', engine: 'onnxruntime', sha256: sha256(bytes), size: bytes.length,
  inputSpec: { name: 'input', shape: [1, inputs] }, outputSpec: { name: 'probabilities' }, preprocessing: {}, labels: [],
  selfTest: { input: [], expectedOutput: [], tolerance: 0 }, created: '2026-12-01T00:00:00Z', expires: '2027-12-01T00:00:00Z',
});

describe('WorkerCandidate: the shadow candidate on its own thread', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-shadow-worker-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function modelFile(name: string, bytes: Uint8Array): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return path;
  }

  it('answers what the same model answers on the main thread, with its engine time', async () => {
    const model = denseSoftmaxModel(7);
    const path = await modelFile('dense.onnx', model.bytes);
    const manifest = manifestFor(model.bytes, model.inputs);
    const candidate = await WorkerCandidate.start({ candidate: { path, manifest, where: 'test' }, onnx: {}}, START);
    const local = await loadVerifiedSession(createEngines(), path, manifest, 'test');
    try {
      for (let i = 0; i < 5; i++) {
        const input = Float32Array.from({ length: model.inputs }, (_, k) => Math.sin(i * 31 + k));
        const { output, engineMs, referenceMs } = await candidate.run(input);
        expect(Array.from(output)).toEqual(Array.from(await local.run(input)));
        expect(engineMs).toBeGreaterThan(0);
        expect(referenceMs).toBeUndefined(); // no reference given: timed against the served request
      }
    } finally {
      await candidate.dispose();
      await local.dispose();
    }
    await expect(candidate.run(new Float32Array(model.inputs))).rejects.toThrow(/disposed/);
  });

  it('leaves the main thread free while a run is in its engine', async () => {
    // 65,536 MACs per unit: a run of about a hundred milliseconds here, in one native call.
    const model = denseSoftmaxModel(8, 16, 4, { computeUnits: 20_000 });
    const path = await modelFile('slow.onnx', model.bytes);
    const candidate = await WorkerCandidate.start({ candidate: { path, manifest: manifestFor(model.bytes, model.inputs), where: 'test' }, onnx: {}}, START);
    try {
      let turns = 0;
      const ticking = setInterval(() => turns++, 1);
      const { engineMs } = await candidate.run(new Float32Array(model.inputs).fill(0.5));
      clearInterval(ticking);
      expect(engineMs).toBeGreaterThan(20); // a run long enough for the count to mean something
      // On the main thread the whole run is one synchronous call: no timer could fire during it.
      expect(turns).toBeGreaterThanOrEqual(5);
    } finally {
      await candidate.dispose();
    }
  });

  it("runs its thread as SCHED_IDLE at nice 19, and only that thread, and reads that thread's wait for a core", async () => {
    const model = denseSoftmaxModel(13);
    const path = await modelFile('nice.onnx', model.bytes);
    const before = await schedulingOfThreads();
    const candidate = await WorkerCandidate.start({ candidate: { path, manifest: manifestFor(model.bytes, model.inputs), where: 'test' }, onnx: {} }, START);
    try {
      expect(candidate.priorityError).toBeUndefined();
      const after = await schedulingOfThreads();
      const lowered = [...after].filter(([tid, s]) => s === 'idle/19' && before.get(tid) !== 'idle/19').map(([tid]) => tid);
      expect(lowered).toEqual([candidate.threadId]); // the candidate's thread (one: ONNX Runtime runs on it at threads 1), no other
      expect(after.get(process.pid)).toBe(before.get(process.pid));
      expect(after.get(process.pid)).toBe('normal/0');
      // Its wait for a core (what tells a starved sample from a slow one) is read from that thread's schedstat.
      expect(candidate.runQueueWaitMs()).toBe(Number((await readFile(`/proc/self/task/${candidate.threadId}/schedstat`, 'utf8')).split(' ')[1]) / 1e6);
      await candidate.run(new Float32Array(model.inputs).fill(0.5)); // and it still runs
    } finally {
      await candidate.dispose();
    }
  });

  it('makes a thread SCHED_IDLE at nice 19 with chrt at its fixed path (no PATH needed)', async () => {
    // With no PATH: chrt is found at its fixed path, not looked up.
    const seen = await lowerInThread('undefined');
    expect(seen).toEqual({ policy: '5', nice: '19' });
  });

  it('stays at nice 19, and says so, where chrt is missing', async () => {
    const seen = await lowerInThread('["/nonexistent/chrt"]');
    expect(seen).toEqual({ problem: 'runs at nice 19, not SCHED_IDLE: no chrt (util-linux) at /nonexistent/chrt', policy: '0', nice: '19' });
  });

  it("refuses bytes that are not the manifest's with the loader's reason, before any engine sees them", async () => {
    const model = denseSoftmaxModel(9);
    const path = await modelFile('other.onnx', denseSoftmaxModel(10).bytes);
    const error = await WorkerCandidate.start({ candidate: { path, manifest: manifestFor(model.bytes, model.inputs), where: 'slot b' }, onnx: {}}, START).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailure);
    expect((error as StepFailure).reason).toBe('hash-mismatch');
    expect((error as StepFailure).message).toMatch(/^slot b holds [0-9a-f]{64}, not the signed/);
  });

  it('times the serving model beside the candidate on every sample, and runs on without it when it does not load', async () => {
    const servingModel = denseSoftmaxModel(11);
    const candidateModel = denseSoftmaxModel(12);
    const candidateFile = { path: await modelFile('candidate.onnx', candidateModel.bytes), manifest: manifestFor(candidateModel.bytes, candidateModel.inputs), where: 'slot b' };
    const servingPath = await modelFile('serving.onnx', servingModel.bytes);
    const paired = await WorkerCandidate.start({ candidate: candidateFile, reference: { path: servingPath, manifest: manifestFor(servingModel.bytes, servingModel.inputs), where: 'slot a' }, onnx: {}}, START);
    // A reference whose bytes are not its manifest's (the serving slot changed under it) is left out, with the reason.
    const unpaired = await WorkerCandidate.start({ candidate: candidateFile, reference: { path: servingPath, manifest: manifestFor(candidateModel.bytes, candidateModel.inputs), where: 'slot a' }, onnx: {}}, START);
    try {
      expect(paired.referenceError).toBeUndefined();
      expect(unpaired.referenceError).toMatch(/^slot a holds [0-9a-f]{64}, not the signed/);
      const input = Float32Array.from({ length: candidateModel.inputs }, (_, k) => Math.cos(k));
      for (let i = 0; i < 4; i++) {
        // Both orders (the reference runs first on even samples): the answer is always the candidate's.
        const run = await paired.run(input);
        expect(Array.from(run.output)).toEqual(Array.from(candidateModel.reference(input)).map((v) => expect.closeTo(v, 5)));
        expect(run.referenceMs).toBeGreaterThan(0);
      }
      expect((await unpaired.run(input)).referenceMs).toBeUndefined();
    } finally {
      await paired.dispose();
      await unpaired.dispose();
    }
  });

  it('gives up a load that never finishes, and one a newer deployment aborts, terminating the thread', async () => {
    const stuck = await modelFile('stuck-worker.mjs', Buffer.from('setInterval(() => undefined, 1000); // never answers\n'));
    const data = { candidate: { path: stuck, manifest: manifestFor(Buffer.from('x'), 1), where: 'test' }, onnx: {} };
    const timedOut = await WorkerCandidate.start(data, { script: stuck, timeoutMs: 300 }).then(() => undefined, (e: unknown) => e);
    expect(timedOut).toBeInstanceOf(StepFailure);
    expect((timedOut as StepFailure).message).toMatch(/did not load within/);
    const abort = new AbortController();
    const starting = WorkerCandidate.start(data, { script: stuck, timeoutMs: 60_000, signal: abort.signal }).then(() => undefined, (e: unknown) => e);
    abort.abort(new Error('superseded'));
    expect(((await starting) as Error).message).toBe('superseded');
    // Both threads exited (they were idle in JavaScript): a new shadow thread is not refused for them.
    const model = denseSoftmaxModel(13);
    const next = await WorkerCandidate.start({ candidate: { path: await modelFile('next.onnx', model.bytes), manifest: manifestFor(model.bytes, model.inputs), where: 'test' }, onnx: {} }, START);
    await next.dispose();
  });

  it('fails the runs waiting on a thread that is disposed', async () => {
    const model = denseSoftmaxModel(14, 16, 4, { computeUnits: 20_000 });
    const candidate = await WorkerCandidate.start({ candidate: { path: await modelFile('slow2.onnx', model.bytes), manifest: manifestFor(model.bytes, model.inputs), where: 'test' }, onnx: {} }, START);
    const running = candidate.run(new Float32Array(model.inputs)).then(() => undefined, (e: unknown) => e);
    await candidate.dispose();
    expect(((await running) as Error).message).toMatch(/disposed/);
  });
});

