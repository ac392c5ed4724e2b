import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrollWhenReachable, EnrollmentError } from '../../apps/agent/src/state/identity.js';

/**
 * A stand-in control plane that answers POST /v1/enroll with the given statuses, in order. It knows no
 * node, so the challenge a node asks for first is a 404 (the node then enrols with its token).
 */
async function answering(statuses: number[]): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = createServer((req, res) => {
    if (req.url === '/v1/enroll/challenge') {
      req.resume();
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ status: 404, detail: 'no enrolled node has this node key' }));
      return;
    }
    const status = statuses[Math.min(requests++, statuses.length - 1)] ?? 500;
    req.resume();
    res.writeHead(status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ status, detail: `status ${status}` }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests: () => requests, close: () => new Promise((done) => server.close(() => done())) };
}

describe('agent enrolment: which refusals are waited out', () => {
  it.each([
    [[503, 502, 409, 429, 401], 5, 4],
    [[403], 1, 0],
    [[400], 1, 0],
  ])('answers %j: gives up after %i requests and %i waits, with a permanent error', async (statuses, requests, waits) => {
    const cp = await answering(statuses);
    const stateDir = await mkdtemp(join(tmpdir(), 'ef-enrol-retry-'));
    const logged: string[] = [];
    try {
      const config = { controlPlaneUrl: cp.url, stateDir, enrollmentToken: 'eft_x', apiPort: 0, heartbeatSeconds: 10, soak: { inferences: 1, seconds: 1 }, stallSeconds: 1, repairAttempts: 1, resultsBufferMax: 10 };
      const outcome = enrollWhenReachable(config, { log: (_level, message) => logged.push(message), firstDelayMs: 1, maxDelayMs: 5 });
      await expect(outcome).rejects.toThrow(EnrollmentError);
      await expect(outcome).rejects.toMatchObject({ retryable: false });
      expect(cp.requests()).toBe(requests);
      expect(logged.filter((m) => m === 'waiting for the control plane to enrol')).toHaveLength(waits);
    } finally {
      await cp.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
