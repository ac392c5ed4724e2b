import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { compilePreprocessing, type InferenceSession, SessionHolder } from '#inference';
import { InferenceStats } from '../telemetry/inference-stats.js';
import { InferenceService, type InferenceRecord } from './inference-service.js';
import { LocalApi } from './local-api.js';

const SIZE = 4;
const MODEL = { sha256: 'a'.repeat(64), name: 'm', version: '1.0.0', variant: 'fp32' };

/** A model as the agent wraps it (preprocessing in front), whose engine behaviour each test picks. */
function session(engine: (input: Float32Array) => Promise<Float32Array>) {
  const calls: Float32Array[] = [];
  const preprocess = compilePreprocessing({}, [1, SIZE]);
  const s: InferenceSession = {
    run: (input) => {
      const x = preprocess(input);
      calls.push(x);
      return engine(x);
    },
    dispose: async () => undefined,
  };
  return { session: s, calls };
}

describe('the local API classifies failures: client mistakes are 4xx and never count against the model', () => {
  let holder: SessionHolder;
  let stats: InferenceStats;
  let results: InferenceRecord[];
  let api: LocalApi;
  let url: string;

  const start = async (engine: (input: Float32Array) => Promise<Float32Array>, timeoutMs = 10_000, maxInFlight = 16) => {
    const s = session(engine);
    await holder.swap(s.session, MODEL);
    stats.resetSoak(MODEL.sha256);
    const service = new InferenceService(holder, stats, (r) => results.push(r), { timeoutMs, maxInFlight, concurrentRuns: 1 });
    api = new LocalApi({ infer: (input, ref) => service.infer(input, ref), status: () => ({}), healthy: () => holder.model !== undefined });
    url = `http://127.0.0.1:${await api.listen(0)}/v1/infer`;
    return s;
  };
  const post = (body: string, contentType = 'application/json') => fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  const problem = async (res: Response) => ({ status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as { status: number; title: string; detail: string } });

  beforeEach(() => {
    holder = new SessionHolder();
    stats = new InferenceStats();
    results = [];
  });
  afterEach(async () => {
    await api.close();
    await holder.close();
  });

  it('answers a valid request with the output, counts a success and hands a result record on', async () => {
    const s = await start(async () => Float32Array.of(0.1, 0.7, 0.2));
    const res = await post(JSON.stringify({ input: [1, 2, 3, 4], inputRef: 'r1' }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { output: number[]; topClass: number; confidence: number; model: typeof MODEL };
    expect(body.output).toEqual(Array.from(Float32Array.of(0.1, 0.7, 0.2)));
    expect(body.topClass).toBe(1);
    expect(body.confidence).toBe(Math.fround(0.7));
    expect(body.model).toEqual(MODEL);
    expect(Array.from(s.calls[0] ?? [])).toEqual([1, 2, 3, 4]);
    expect(stats.soak(MODEL.sha256)).toEqual({ successes: 1, errors: 0 });
    expect(results).toMatchObject([{ model: MODEL, inputRef: 'r1', topClass: 1 }]);
  });

  it.each([
    ['a wrong input length', JSON.stringify({ input: [1, 2, 3] }), 'application/json', 400, /expected 4 input values, got 3/],
    ['invalid JSON', '{"input": [1, 2,', 'application/json', 400, /not JSON/],
    ['a body that is not an object', '[1, 2, 3, 4]', 'application/json', 400, /expected an object/],
    ['no input', '{}', 'application/json', 400, /input: expected an array/],
    ['non-numbers in the input', JSON.stringify({ input: [1, '2', 3, 4] }), 'application/json', 400, /input\.1: expected a number/],
    ['a value beyond float32', '{"input": [1, 2, 3, 1e39]}', 'application/json', 400, /input\.3: expected a number that fits float32/],
    ['an unknown key', JSON.stringify({ input: [1, 2, 3, 4], extra: 1 }), 'application/json', 400, /unknown key/],
    ['a non-string inputRef', JSON.stringify({ input: [1, 2, 3, 4], inputRef: 5 }), 'application/json', 400, /inputRef/],
    ['a NUL in inputRef (the control plane cannot store it)', JSON.stringify({ input: [1, 2, 3, 4], inputRef: 'r\u0000' }), 'application/json', 400, /inputRef: must not contain the NUL/],
    ['text/plain', JSON.stringify({ input: [1, 2, 3, 4] }), 'text/plain', 415, /application\/json/],
    ['a body over 4 MiB', JSON.stringify({ input: Array.from({ length: 1_000_000 }, () => 0.123456) }), 'application/json', 413, /body over/],
  ])('refuses %s: a 4xx problem, no engine run, nothing counted', async (_what, body, contentType, status, detail) => {
    const s = await start(async () => Float32Array.of(1));
    const answer = await problem(await post(body, contentType));
    expect(answer.status).toBe(status);
    expect(answer.type).toBe('application/problem+json');
    expect(answer.body.status).toBe(status);
    expect(answer.body.detail).toMatch(detail);
    expect(s.calls.filter((x) => x.length === SIZE)).toHaveLength(0); // the engine never saw it
    expect(stats.soak(MODEL.sha256)).toEqual({ successes: 0, errors: 0 });
    expect(stats.takeWindow()).toMatchObject({ inferences: 0, errors: 0 });
    expect(results).toEqual([]);
  });

  it('answers 503 without a model and counts nothing', async () => {
    await start(async () => Float32Array.of(1));
    await holder.close();
    const answer = await problem(await post(JSON.stringify({ input: [1, 2, 3, 4] })));
    expect(answer.status).toBe(503);
    expect(stats.takeWindow()).toMatchObject({ inferences: 0, errors: 0 });
  });

  it.each([
    ['the engine throws on a valid input', async () => Promise.reject(new Error('kernel failed')), 500, /kernel failed/],
    ['a NaN output', async () => Float32Array.of(0.5, Number.NaN), 500, /non-finite/],
    ['an infinite output', async () => Float32Array.of(Number.POSITIVE_INFINITY), 500, /non-finite/],
    ['an empty output', async () => new Float32Array(0), 500, /empty output/],
  ])('counts a model-side failure against the model: %s', async (_what, engine, status, detail) => {
    await start(engine);
    const answer = await problem(await post(JSON.stringify({ input: [1, 2, 3, 4] })));
    expect(answer.status).toBe(status);
    expect(answer.type).toBe('application/problem+json');
    expect(answer.body.detail).toMatch(detail);
    expect(stats.soak(MODEL.sha256)).toEqual({ successes: 0, errors: 1 });
    expect(results).toEqual([]);
  });

  it('bounds a request in time: a model that never answers is a 504 and a failed inference', async () => {
    await start(() => new Promise<Float32Array>(() => undefined), 20);
    const answer = await problem(await post(JSON.stringify({ input: [1, 2, 3, 4] })));
    expect(answer.status).toBe(504);
    expect(answer.body.detail).toMatch(/did not answer within 20 ms/);
    expect(stats.soak(MODEL.sha256)).toEqual({ successes: 0, errors: 1 });
  });

  it('keeps serving on the same connection after refusing a request', async () => {
    await start(async () => Float32Array.of(1));
    expect((await post('not json')).status).toBe(400);
    expect((await post(JSON.stringify({ input: [1, 2, 3, 4] }))).status).toBe(200);
    expect((await fetch(url.replace('/v1/infer', '/v1/nowhere'))).status).toBe(404);
  });

  /** A raw request (fetch does not let a test pick the Host header). */
  const raw = (path: string, method: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
      const req = request(url.replace('/v1/infer', path), { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const inferBody = JSON.stringify({ input: [1, 2, 3, 4], inputRef: 'x' });

  it.each([
    ['a foreign host name (DNS rebinding)', { host: 'attacker.example:PORT' }, 421],
    ['a foreign host without a port', { host: 'attacker.example' }, 421],
    ['localhost on another port', { host: 'localhost:1' }, 421],
    ['an Origin header (a web page)', { host: '127.0.0.1:PORT', origin: 'http://attacker.example' }, 403],
    ['a null Origin', { host: 'localhost:PORT', origin: 'null' }, 403],
  ])('refuses %s on every route, before any model runs, counting nothing', async (_what, headers, status) => {
    const s = await start(async () => Float32Array.of(1));
    const port = new URL(url).port;
    const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('PORT', port)]));
    const infer = await raw('/v1/infer', 'POST', { ...h, 'content-type': 'application/json' }, inferBody);
    expect(infer.status).toBe(status);
    expect(infer.type).toBe('application/problem+json');
    expect((await raw('/v1/status', 'GET', h)).status).toBe(status);
    expect((await raw('/v1/health', 'GET', h)).status).toBe(status);
    expect(s.calls).toHaveLength(0);
    expect(stats.takeWindow()).toMatchObject({ inferences: 0, errors: 0 });
    expect(results).toEqual([]);
  });

  it.each(['127.0.0.1:PORT', 'localhost:PORT', 'LocalHost:PORT', '[::1]:PORT'])('serves a request whose Host is %s', async (host) => {
    await start(async () => Float32Array.of(1));
    const port = new URL(url).port;
    const res = await raw('/v1/infer', 'POST', { host: host.replace('PORT', port), 'content-type': 'application/json' }, inferBody);
    expect(res.status).toBe(200);
    expect(stats.soak(MODEL.sha256)).toEqual({ successes: 1, errors: 0 });
  });

  it('refuses a request past the in-flight cap with 503 and Retry-After, not counted, and serves again once below it', async () => {
    let finish: (output: Float32Array) => void = () => undefined;
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    await start(() => new Promise<Float32Array>((resolve) => { finish = resolve; started(); }), 10_000, 1);
    const first = post(inferBody);
    await running; // the one admitted request is in the engine
    const refused = await post(inferBody);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/in flight/);
    finish(Float32Array.of(1));
    expect((await first).status).toBe(200);
    expect(stats.soak(MODEL.sha256)).toEqual({ successes: 1, errors: 0 });
  });
});
