import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import { waitFor } from '../helpers/agent-process.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

interface Stream {
  /** Ids of the events delivered (data blocks only). */
  readonly ids: string[];
  /** Set when the server ends the stream. */
  readonly state: { ended: boolean; lastId: string | undefined; heartbeats: number };
  close(): void;
}

/** An SSE client on node:http that records the events and whether the server ended the stream. */
function openStream(url: string, key: string, lastEventId?: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const ids: string[] = [];
    const state: Stream['state'] = { ended: false, lastId: undefined, heartbeats: 0 };
    const headers = { ...bearer(key), Accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) };
    const req = http.get(`${url}/v1/events/stream`, { headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const lines = buffer.slice(0, end).split('\n');
          buffer = buffer.slice(end + 2);
          const id = lines.find((l) => l.startsWith('id: '))?.slice(4);
          if (lines.includes(': heartbeat')) state.heartbeats++;
          if (id !== undefined) state.lastId = id;
          if (id !== undefined && lines.some((l) => l.startsWith('data: '))) ids.push(id);
        }
      });
      res.on('end', () => (state.ended = true));
      res.on('error', () => undefined);
      resolve({ ids, state, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function createKey(t: TestApp): Promise<{ id: string; key: string }> {
  const res = await t.http().post('/v1/api-keys').set(bearer(t.adminKey)).send({ name: 'stream-viewer', role: 'viewer' }).expect(201);
  return res.body as { id: string; key: string };
}

/** A real event through the feed: a row in `events` as any recorder writes it. */
async function causeEvent(t: TestApp): Promise<string> {
  const rows = (await t.db.query(`INSERT INTO events (type, payload) VALUES ('node.online', '{}') RETURNING id::text AS id`)) as { id: string }[];
  return rows[0]?.id ?? '';
}

const storedIds = async (t: TestApp) => ((await t.http().get('/v1/events').query({ limit: 1000 }).set(bearer(t.adminKey)).expect(200)).body as { items: { id: string }[] }).items.map((e) => e.id);

describe('event streams and their API key', () => {
  let t: TestApp;
  let short: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ EVENTS_HEARTBEAT_MS: '100', EVENTS_POLL_MS: '100' });
    short = await startTestApp({ EVENTS_HEARTBEAT_MS: '100', EVENTS_POLL_MS: '100', EVENTS_STREAM_MAX_LIFETIME_MS: '1000' });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await short?.close();
  });

  it('closes a stream when its key is revoked (DELETE /v1/api-keys/:id) and never delivers a later event', async () => {
    const { id, key } = await createKey(t);
    const stream = await openStream(t.url, key);
    try {
      const before = await causeEvent(t);
      await waitFor(async () => stream.ids, (ids) => ids.includes(before), 10_000, 'an event while the key holds');
      await t.http().delete(`/v1/api-keys/${id}`).set(bearer(t.adminKey)).expect(204);
      const after = await causeEvent(t);
      await waitFor(async () => stream.state.ended, (ended) => ended, 5_000, 'the stream to end');
      // The event is stored and served to a valid key; the revoked stream never had it.
      await waitFor(() => storedIds(t), (ids) => ids.includes(after), 5_000, 'the later event stored');
      expect(stream.ids).not.toContain(after);
      await expect(openStream(t.url, key)).rejects.toThrow('401');
    } finally {
      stream.close();
    }
  });

  it('closes a stream at its next heartbeat when its key is revoked elsewhere (another replica)', async () => {
    const { id, key } = await createKey(t);
    const stream = await openStream(t.url, key);
    try {
      const before = await causeEvent(t);
      await waitFor(async () => stream.ids, (ids) => ids.includes(before), 10_000, 'an event while the key holds');
      // As another replica's DELETE: the row changes, this replica hears nothing.
      await t.db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [id]);
      await waitFor(async () => stream.state.ended, (ended) => ended, 5_000, 'the stream to end at a heartbeat');
      const after = await causeEvent(t);
      await waitFor(() => storedIds(t), (ids) => ids.includes(after), 5_000, 'the later event stored');
      expect(stream.ids).not.toContain(after);
    } finally {
      stream.close();
    }
  });

  it('keeps a stream of a valid key open across heartbeats', async () => {
    const { key } = await createKey(t);
    const stream = await openStream(t.url, key);
    try {
      const first = await causeEvent(t);
      await waitFor(async () => stream.ids, (ids) => ids.includes(first), 10_000, 'the first event');
      // Heartbeats, each re-checking the key, later the stream still delivers.
      const seen = stream.state.heartbeats;
      await waitFor(async () => stream.state.heartbeats, (n) => n >= seen + 5, 5_000, 'five more heartbeats');
      const second = await causeEvent(t);
      await waitFor(async () => stream.ids, (ids) => ids.includes(second), 10_000, 'the second event');
      expect(stream.state.ended).toBe(false);
    } finally {
      stream.close();
    }
  });

  it('ends a stream after EVENTS_STREAM_MAX_LIFETIME_MS; the client resumes with Last-Event-ID and misses nothing', async () => {
    const { key } = await createKey(short);
    const opened = Date.now();
    const stream = await openStream(short.url, key);
    const first = await causeEvent(short);
    await waitFor(async () => stream.state.ended, (ended) => ended, 10_000, 'the stream to reach its lifetime');
    expect(Date.now() - opened).toBeGreaterThanOrEqual(1000);
    expect(stream.ids).toContain(first);
    const missed = await causeEvent(short);
    const resumed = await openStream(short.url, key, stream.state.lastId);
    try {
      await waitFor(async () => resumed.ids, (ids) => ids.includes(missed), 10_000, 'the event between the streams');
      expect(resumed.ids).not.toContain(first);
    } finally {
      resumed.close();
    }
  });
});
