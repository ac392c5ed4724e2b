import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, enrolNodes, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const CLI = join(process.cwd(), 'dist/apps/cli/src/main.js');
// One wave, no bake; one failed node is enough to halt.
const QUICK = { waves: { percentages: [100] }, failureThreshold: { count: 1 }, nodeTimeoutSeconds: 60 };

interface Summary {
  state: string;
  events: { id: string; type: string }[];
}

describe('edgefleet rollouts watch across a dropped event stream', () => {
  let broker: TestBroker;
  let t: TestApp;
  let proxy: TcpProxy;
  let fleet: SimulatedFleet;
  let home: string;
  let versionId: string;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50', EVENTS_POLL_MS: '200' });
    proxy = await TcpProxy.start(new URL(t.url));
    home = await mkdtemp(join(tmpdir(), 'ef-cli-stream-'));
    await createModel(t, 'cut', 16, 4);
    versionId = (await uploadVersion(t, 'cut', { version: '1.0.0' }, denseSoftmaxModel(3, 16, 4).bytes)).id;
    const ids = await enrolNodes(t, 2, { fleet: 'cut' });
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids, () => 'fail');
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
    await proxy?.stop();
    await t?.close();
    await broker?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('resumes with Last-Event-ID after the connection is cut, gets every event it missed once, and ends on the halt', async () => {
    const id = await startRollout(t, { name: 'cut off', modelVersionId: versionId, selector: 'fleet=cut', strategy: QUICK }, false);
    const watch = spawn(process.execPath, [CLI, '--json', 'rollouts', 'watch', id, '--timeout', '40'], {
      env: { PATH: process.env['PATH'] ?? '', HOME: home, EDGEFLEET_URL: proxy.url, EDGEFLEET_API_KEY: t.adminKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    watch.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    watch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => watch.on('close', resolve));
    const summaries = () => stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Summary);
    await waitFor(async () => summaries(), (s) => s.length === 1, 15_000, 'the first summary (the draft)');
    expect(summaries()[0]).toMatchObject({ state: 'draft', events: [] });

    // Cut the watch off, then let the rollout start and halt while it cannot hear anything.
    proxy.cut();
    await t.http().post(`/v1/rollouts/${id}/start`).set(bearer(t.adminKey)).send({}).expect(200);
    await waitForRolloutState(t, id, ['halted']);
    await waitFor(async () => stderr, (e) => e.includes('event stream dropped'), 15_000, 'the watch noticed the cut');
    expect(summaries()).toHaveLength(1);
    proxy.restore();

    expect(await exited).toBe(1);
    expect(stderr).toMatch(/event stream resumed after event \d+/);
    expect(stderr).toMatch(/rollout cut off halted: failure threshold/);
    // The first connection started from "now"; the reconnect asked for what came after the position the
    // server gave it, though no event had arrived before the cut.
    const [first, ...reconnects] = proxy.streamRequests();
    expect(first).not.toMatch(/last-event-id/i);
    expect(reconnects.at(-1)).toMatch(/last-event-id: \d+/i);

    // Every event of the rollout up to its halt reached the watch after the cut, once each and in order.
    const stored = ((await t.http().get('/v1/events').query({ rollout: id, limit: 1000 }).set(bearer(t.adminKey)).expect(200)).body as { items: { id: string; type: string }[] }).items;
    const haltAt = stored.findIndex((e) => e.type === 'rollout.halted');
    expect(haltAt).toBeGreaterThan(0);
    const received = summaries().flatMap((s) => s.events);
    expect(received.length).toBeGreaterThan(haltAt);
    expect(received).toEqual(stored.slice(0, received.length).map(({ id: eventId, type }) => ({ id: eventId, type })));
    expect(summaries().at(-1)).toMatchObject({ state: 'halted' });
  }, 120_000);
});
