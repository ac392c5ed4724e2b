import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bucketUpperBound, latencyBucket } from '#protocol';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, enrolNodes, rolloutNodes, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

interface Side {
  nodes: number;
  inferences: number;
  latencyMs: { p50: number; p99: number } | null;
}
interface Series {
  windowSeconds: number;
  stepSeconds: number;
  points: { from: string; to: string; canary: Side; control: Side }[];
}

const heartbeatsOf = async (t: TestApp, ids: string[]) => ((await t.db.query(`SELECT count(*)::int AS n FROM node_heartbeats WHERE node_id = ANY($1)`, [ids])) as { n: number }[])[0]?.n ?? 0;

describe('GET /v1/rollouts/{id}/stats/series: canary vs control, step by step', () => {
  let broker: TestBroker;
  let t: TestApp;
  let fleet: SimulatedFleet | undefined;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
    await t.close();
    await broker.stop();
  });

  it('puts each heartbeat in the step it was received in: an old batch, an empty step, a new batch', async () => {
    await createModel(t, 'series', 8, 4);
    const v1 = await uploadVersion(t, 'series', { version: '1.0.0' }, denseSoftmaxModel(1, 8).bytes);
    const v2 = await uploadVersion(t, 'series', { version: '2.0.0' }, denseSoftmaxModel(2, 8).bytes);
    const ids = await enrolNodes(t, 4, { group: 'series' });
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids);
    await waitForRolloutState(t, await startRollout(t, { modelVersionId: v1.id, selector: 'group=series' }), ['completed']);
    // Half the nodes move to 2.0.0, then the rollout bakes for an hour: 2 canary, 2 control for the test.
    const id = await startRollout(t, { modelVersionId: v2.id, selector: 'group=series', strategy: { waves: { percentages: [50, 100] }, bakeSeconds: 3600 } });
    await waitFor(() => rolloutNodes(t, id), (nodes) => nodes.filter((n) => n.state === 'succeeded').length === 2, 20_000, 'wave 1 succeeded');

    const canaryMs = { old: 40, new: 80 };
    const beat = (phase: 'old' | 'new', count: number) =>
      fleet?.heartbeatWithHistogram((_node, model) => ({ latenciesMs: new Array<number>(count).fill(model?.version === '2.0.0' ? canaryMs[phase] : 10) }));
    await beat('old', 1000);
    await waitFor(() => heartbeatsOf(t, ids), (n) => n === 4, 10_000, 'first batch stored');
    // The first batch, as if received 50 s ago: ingestion is real, only the clock is moved.
    await t.db.query(`UPDATE node_heartbeats SET received_at = received_at - interval '50 seconds' WHERE node_id = ANY($1)`, [ids]);
    await beat('new', 500);
    await waitFor(() => heartbeatsOf(t, ids), (n) => n === 8, 10_000, 'second batch stored');

    const series = (await t.http().get(`/v1/rollouts/${id}/stats/series`).query({ windowSeconds: 60, steps: 3 }).set(bearer(t.adminKey)).expect(200)).body as Series;
    expect(series).toMatchObject({ windowSeconds: 60, stepSeconds: 20 });
    const [old, empty, recent] = series.points;
    const ms = (v: number) => bucketUpperBound(latencyBucket(v));
    expect(old?.canary).toMatchObject({ nodes: 2, inferences: 2000, latencyMs: { p99: ms(40) } });
    expect(old?.control).toMatchObject({ nodes: 2, inferences: 2000, latencyMs: { p99: ms(10) } });
    expect(empty?.canary).toMatchObject({ nodes: 0, inferences: 0, latencyMs: null });
    expect(empty?.control).toMatchObject({ nodes: 0, inferences: 0, latencyMs: null });
    expect(recent?.canary).toMatchObject({ nodes: 2, inferences: 1000, latencyMs: { p99: ms(80) } });
    // Back to back, 20 s each, the last ending when the request was answered.
    for (const [i, p] of series.points.entries()) {
      expect(Date.parse(p.to) - Date.parse(p.from)).toBe(20_000);
      if (i > 0) expect(p.from).toBe(series.points[i - 1]?.to);
    }
    // The steps add up to the whole window as GET …/stats sees it.
    const whole = (await t.http().get(`/v1/rollouts/${id}/stats`).query({ windowSeconds: 60 }).set(bearer(t.adminKey)).expect(200)).body as { canary: Side; control: Side };
    expect(whole.canary.inferences).toBe(series.points.reduce((n, p) => n + p.canary.inferences, 0));
    expect(whole.control.inferences).toBe(series.points.reduce((n, p) => n + p.control.inferences, 0));
  }, 90_000);

  it('refuses steps and windows out of bounds with a problem, and an unknown rollout with a 404', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const query of [{ steps: 1 }, { steps: 61 }, { steps: 'x' }, { windowSeconds: 0 }, { windowSeconds: 86_401 }]) {
      const res = await t.http().get(`/v1/rollouts/${unknown}/stats/series`).query(query).set(bearer(t.adminKey)).expect(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    await t.http().get(`/v1/rollouts/${unknown}/stats/series`).set(bearer(t.adminKey)).expect(404);
    await t.http().get(`/v1/rollouts/not-a-uuid/stats/series`).set(bearer(t.adminKey)).expect(400);
  });
});
