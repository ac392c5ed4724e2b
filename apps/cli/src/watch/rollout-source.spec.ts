import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createApiClient } from '#api-client';
import { streamSource } from './rollout-source.js';

/**
 * A stand-in for the control plane's HTTP API (the watch's input, not the thing under test): an event
 * stream that opens and then stays quiet, and a rollout whose one node moves from phase to phase, as nodes
 * do between rollout events (downloading, shadowing, soaking).
 */
async function quietApi(): Promise<{ url: string; server: Server; streams: Set<ServerResponse>; phase: { now: string } }> {
  const phase = { now: 'downloading' };
  const streams = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0] ?? '';
    if (path === '/v1/events/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('id: 0\n\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/v1/rollouts/r1/nodes') return json([{ nodeId: 'n1', nodeName: 'cam-1', wave: 1, state: 'dispatched', phase: phase.now, shadow: null, failure: null, progress: null }]);
    if (path === '/v1/rollouts/r1') return json({ id: 'r1', name: 'watch me', state: 'running', currentWave: 0, haltReason: null, waves: [{ wave: 1, planned: 1, states: {} }], events: [] });
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, streams, phase };
}

describe('the watch reading a rollout', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections(); // the client's kept-alive connections to the REST routes
    return new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('reads the rollout again while the stream is quiet, and closes the stream once the watch stops', async () => {
    const api = await quietApi();
    server = api.server;
    const stop = new AbortController();
    const phases: string[] = [];
    const source = streamSource(createApiClient({ baseUrl: api.url, apiKey: 'k' }), { note: () => undefined, refreshMs: 50 })('r1', stop.signal);
    for await (const snapshot of source) {
      phases.push(snapshot.nodes[0]?.phase ?? '');
      api.phase.now = 'self-tested'; // the node moves on without a rollout event
      if (phases.includes('self-tested')) break;
    }
    expect(phases).toEqual(['downloading', 'self-tested']);
    // The stream's connection is let go when the watch ends, with a read still pending on it.
    const deadline = Date.now() + 5000;
    while (api.streams.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(api.streams.size).toBe(0);
  });
});
