import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 8;
const golden = Array.from({ length: INPUTS }, (_, i) => i / INPUTS);

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request with every header chosen by the test (fetch picks Host itself), over TCP or a Unix socket. */
function call(to: { port: number } | { socketPath: string }, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = 'port' in to ? { host: '127.0.0.1', port: to.port } : { socketPath: to.socketPath };
    const req = request({ ...target, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'content-type': 'application/json' };
const inferBody = JSON.stringify({ input: golden });
const problemStatus = (a: Answer) => ({ status: a.status, type: a.headers['content-type'], body: (JSON.parse(a.body) as { status: number }).status });

/**
 * Issue 11, hole 6: a web page in the device's browser must not be able to drive the agent's local
 * API (DNS rebinding, cross-origin posts), and an on-device app can be required to prove it may read a
 * token file, or reach the API over a Unix socket only. Real agent processes, control plane and broker.
 */
describe('the local API serves local processes only', () => {
  let broker: TestBroker;
  let t: TestApp;
  let enrollmentToken: string;
  let dir: string;
  const agents: AgentProcess[] = [];
  const startAgent = async (config: Record<string, unknown> = {}, soak = { inferences: 3, seconds: 1 }) => {
    const agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken, config, soak });
    agents.push(agent);
    return agent;
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
    await createModel(t, 'local', INPUTS, 4);
    enrollmentToken = (await createEnrollmentToken(t)).token;
    dir = await mkdtemp(join(tmpdir(), 'ef-local-api-'));
  }, 60_000);

  afterAll(async () => {
    for (const agent of agents) await agent.remove();
    await t?.close();
    await broker?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('over TCP, without a token', () => {
    let agent: AgentProcess;
    let port: { port: number };
    let host: Record<string, string>;
    let deploymentId: string;

    beforeAll(async () => {
      // One good inference ends the soak: a refused request counted either way would decide it early.
      agent = await startAgent({}, { inferences: 1, seconds: 600 });
      port = { port: agent.apiPort };
      host = { host: `127.0.0.1:${agent.apiPort}` };
      const model = denseSoftmaxModel(1, INPUTS);
      const uploaded = await uploadVersion(t, 'local', { version: '1.0.0' }, model.bytes);
      deploymentId = (await deploy(t, uploaded.id, { nodeIds: [agent.nodeId] })).id;
      await waitFor(() => agent.status(), (s) => s.model?.sha256 === uploaded.sha256 && s.phase === 'soaking', 30_000, 'soaking');
    }, 60_000);

    it('refuses a POST that is not application/json with 415 on every route, and counts none of them', async () => {
      for (const [path, sent] of [['/v1/infer', 'text/plain'], ['/v1/infer', 'application/x-www-form-urlencoded'], ['/v1/infer', ''], ['/v1/status', 'text/plain'], ['/v1/nowhere', 'multipart/form-data; boundary=x']] as const) {
        const answer = await call(port, 'POST', path, { ...host, ...(sent ? { 'content-type': sent } : {}) }, inferBody);
        expect({ path, sent, ...problemStatus(answer) }).toEqual({ path, sent, status: 415, type: 'application/problem+json', body: 415 });
      }
      expect((await agent.status()).phase).toBe('soaking'); // no refusal counted as a success or a failure
      expect((await call(port, 'POST', '/v1/infer', { ...host, ...json }, inferBody)).status).toBe(200);
      // Committed: no refusal was counted as a failed inference (one would have rolled the model back).
      const targets = async () => ((await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200)).body as { targets: { state: string | null }[] }).targets.map((x) => x.state);
      expect(await waitFor(targets, (s) => s.every((x) => x === 'committed' || (x ?? '').startsWith('rolled-back')), 30_000, 'soak decided')).toEqual(['committed']);
    });

    it.each([
      ['a DNS-rebinding Host', { host: 'evil.example' }, 421],
      ['a foreign Host with our port', { host: 'evil.example:PORT' }, 421],
      ['an Origin', { host: '127.0.0.1:PORT', origin: 'http://evil.example' }, 403],
      ['an Origin naming localhost itself', { host: 'localhost:PORT', origin: 'http://localhost:PORT' }, 403],
    ])('refuses %s on every route', async (_what, headers, status) => {
      const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('PORT', String(agent.apiPort))]));
      expect(problemStatus(await call(port, 'POST', '/v1/infer', { ...h, ...json }, inferBody))).toEqual({ status, type: 'application/problem+json', body: status });
      expect((await call(port, 'GET', '/v1/status', h)).status).toBe(status);
      expect((await call(port, 'GET', '/v1/health', h)).status).toBe(status);
    });

    it('answers a CORS preflight with 403 and no Access-Control-Allow-* header', async () => {
      const answer = await call(port, 'OPTIONS', '/v1/infer', { ...host, origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' });
      expect(answer.status).toBe(403);
      expect(Object.keys(answer.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    });
  });

  describe('with a token', () => {
    let agent: AgentProcess;
    let port: { port: number };
    let host: Record<string, string>;
    const tokenFile = () => join(dir, 'local-api.token');

    beforeAll(async () => {
      agent = await startAgent({ localApiTokenFile: tokenFile() });
      port = { port: agent.apiPort };
      host = { host: `localhost:${agent.apiPort}` };
    }, 60_000);

    it('writes the token file readable by the owner and group only', async () => {
      expect((await stat(tokenFile())).mode & 0o777).toBe(0o640);
      expect((await readFile(tokenFile(), 'utf8')).trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it.each([
      ['no Authorization header', {}],
      ['a wrong token', { authorization: 'Bearer not-the-token' }],
      ['the token in another scheme', { authorization: 'TOKEN' }],
    ])('answers 401 problem+json to %s, on every route', async (_what, auth) => {
      const token = (await readFile(tokenFile(), 'utf8')).trim();
      const authorization = Object.fromEntries(Object.entries(auth).map(([k, v]) => [k, v.replace('TOKEN', `Basic ${token}`)]));
      for (const [method, path] of [['GET', '/v1/status'], ['GET', '/v1/health'], ['POST', '/v1/infer']] as const) {
        const answer = await call(port, method, path, { ...host, ...json, ...authorization }, method === 'POST' ? inferBody : undefined);
        expect({ path, ...problemStatus(answer) }).toEqual({ path, status: 401, type: 'application/problem+json', body: 401 });
        expect(answer.headers['www-authenticate']).toMatch(/^Bearer /);
      }
    });

    it('serves a request carrying the token from the file', async () => {
      const token = (await readFile(tokenFile(), 'utf8')).trim();
      const answer = await call(port, 'GET', '/v1/status', { ...host, authorization: `Bearer ${token}` });
      expect(answer.status).toBe(200);
      expect((JSON.parse(answer.body) as { nodeId: string }).nodeId).toBe(agent.nodeId);
    });

    it('issues a new token at restart: the old one is refused, the new one served', async () => {
      const before = (await readFile(tokenFile(), 'utf8')).trim();
      await agent.stop();
      await agent.restart();
      const after = (await readFile(tokenFile(), 'utf8')).trim();
      expect(after).not.toBe(before);
      const h = { host: `127.0.0.1:${agent.apiPort}` };
      expect((await call({ port: agent.apiPort }, 'GET', '/v1/status', { ...h, authorization: `Bearer ${before}` })).status).toBe(401);
      expect((await call({ port: agent.apiPort }, 'GET', '/v1/status', { ...h, authorization: `Bearer ${after}` })).status).toBe(200);
    });
  });

  describe('over a Unix socket only', () => {
    let agent: AgentProcess;
    const socketPath = () => join(dir, 'local-api.sock');

    beforeAll(async () => {
      agent = await startAgent({ apiPort: null, localApiSocket: socketPath() });
    }, 60_000);

    it('serves requests over the socket, whose file is open to the owner and group only, and listens on no TCP port', async () => {
      const s = await stat(socketPath());
      expect(s.isSocket()).toBe(true);
      expect(s.mode & 0o777).toBe(0o660);
      const answer = await call({ socketPath: socketPath() }, 'GET', '/v1/status', { host: 'localhost' });
      expect(answer.status).toBe(200);
      expect((JSON.parse(answer.body) as { nodeId: string }).nodeId).toBe(agent.nodeId);
      expect(agent.apiPort).toBe(0);
    });

    it('applies the same content-type and Origin rules over the socket', async () => {
      expect((await call({ socketPath: socketPath() }, 'POST', '/v1/infer', { host: 'localhost', 'content-type': 'text/plain' }, inferBody)).status).toBe(415);
      expect((await call({ socketPath: socketPath() }, 'GET', '/v1/status', { host: 'localhost', origin: 'http://evil.example' })).status).toBe(403);
    });

    it('starts again after a kill -9 left the socket file behind', async () => {
      await agent.kill();
      await agent.restart();
      expect((await call({ socketPath: socketPath() }, 'GET', '/v1/health', { host: 'localhost' })).status).toBe(503); // served: no model yet
    });
  });
});
