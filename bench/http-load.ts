/**
 * The load generator of bench/agent-http.ts, on a worker thread of its own. The bench's main thread also
 * hosts the control plane, which ingests the agent's result batches (MQTT, validation, PostgreSQL) while
 * the agent is measured and never while the raw server is: a client on that event loop timed those stalls
 * as the agent's latency (the bench's loop lagged up to 127 ms in agent rounds against 56 ms in raw ones).
 *   const load = await HttpLoad.start(); await load.round({ port, body, count, concurrency }); await load.close();
 */
import { Agent as HttpAgent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

export interface RoundRequest {
  readonly port: number;
  readonly body: Uint8Array;
  readonly count: number;
  readonly concurrency: number;
}

export interface RoundResult {
  /** Milliseconds from each request's start to its answer's last byte. */
  readonly latencies: Float64Array;
  /** Milliseconds from the round's first request to its last answer. */
  readonly elapsedMs: number;
}

type Reply = { ok: true; result: RoundResult } | { ok: false; message: string };

/** The main thread's handle on the worker: one round at a time. */
export class HttpLoad {
  private constructor(private readonly worker: Worker) {}

  static async start(): Promise<HttpLoad> {
    const worker = new Worker(new URL(import.meta.url));
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
    return new HttpLoad(worker);
  }

  round(req: RoundRequest): Promise<RoundResult> {
    return new Promise<RoundResult>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.worker.once('error', onError);
      this.worker.once('message', (reply: Reply) => {
        this.worker.off('error', onError);
        if (reply.ok) resolve(reply.result);
        else reject(new Error(reply.message));
      });
      this.worker.postMessage(req);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** Keep-alive connections per server and concurrency, kept across rounds as the bench always did. */
const agents = new Map<string, HttpAgent>();

/** `count` POSTs to /v1/infer from `concurrency` callers over keep-alive connections. */
async function runRound({ port, body, count, concurrency }: RoundRequest): Promise<RoundResult> {
  const key = `${port}/${concurrency}`;
  let agent = agents.get(key);
  if (!agent) agents.set(key, (agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency })));
  const keptAlive = agent;
  const payload = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const t = performance.now();
      const req = request(
        { host: '127.0.0.1', port, path: '/v1/infer', method: 'POST', agent: keptAlive, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`port ${port}: HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const latencies = new Float64Array(count);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) latencies[i] = await once();
    }),
  );
  return { latencies, elapsedMs: performance.now() - t0 };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', (req: RoundRequest) => {
    runRound(req).then(
      (result) => port.postMessage({ ok: true, result } satisfies Reply),
      (error: unknown) => port.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error) } satisfies Reply),
    );
  });
}
