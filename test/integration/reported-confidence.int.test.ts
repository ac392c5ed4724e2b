import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CONFIDENCE_BOUNDS, CONFIDENCE_BUCKET_COUNT, confidenceBucket } from '#protocol';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, reportRunning, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { type ModelRef, SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';
import { ROLLUP_TIERS, rollupSource } from '../../apps/control-plane/src/telemetry/rollup-sql.js';

interface GroupStats {
  key: string | null;
  inferences: number;
  results: number;
  confidences: number;
  meanConfidence: number | null;
  confidence: { le: number; count: number }[];
}

/** Confidences away from bucket bounds (float32 rounding must not move one across): 0.025 + 0.05·k. */
const confidences = (n: number, k0: number) => Array.from({ length: n }, (_, i) => 0.025 + 0.05 * ((k0 + i) % 20));
const distribution = (values: readonly number[]) => {
  const counts = new Array<number>(CONFIDENCE_BUCKET_COUNT).fill(0);
  for (const c of values) counts[confidenceBucket(c)]++;
  return counts.map((count, i) => ({ le: CONFIDENCE_BOUNDS[i], count }));
};
const mean = (values: readonly number[]) => values.reduce((a, c) => a + c, 0) / values.length;

/**
 * Confidence reported in heartbeats (issue 12): under `sample` or `aggregates` the control plane stores few
 * results or none, so the stats route and the rollout's confidence gate read the confidence histogram every
 * heartbeat carries, per node, and fall back to stored results only for nodes whose heartbeats have none.
 */
describe('confidence reported in heartbeats', () => {
  let broker: TestBroker;
  let t: TestApp;
  const fleets: SimulatedFleet[] = [];

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(fleets.map((f) => f.stop()));
    await t.close();
    await broker.stop();
  });

  const get = async <T>(path: string): Promise<T> => (await t.http().get(path).set(bearer(t.adminKey)).expect(200)).body as T;
  const startFleet = async (ids: string[]) => {
    const fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids);
    fleets.push(fleet);
    return fleet;
  };

  it('gives the stats route every reporting node’s confidences, and the stored results of nodes that report none, never both', async () => {
    await createModel(t, 'reported', 8, 4);
    const v1 = await uploadVersion(t, 'reported', { version: '1.0.0' }, denseSoftmaxModel(3, 8).bytes);
    const ids = await enrolNodes(t, 4, { suite: 'reported' });
    const [reporting, legacy] = [ids.slice(0, 2), ids.slice(2)];
    const fleet = await startFleet(ids);
    await deploy(t, v1.id, { nodeIds: ids });
    await waitFor(async () => fleet.running.size, (n) => n === ids.length, 20_000, 'every node running');
    await reportRunning(t, fleet, ids, v1.id);

    // Reporting nodes: 300 inferences a heartbeat, all with confidences, and a 5% sample of results whose
    // confidences differ on purpose (if the route added them, the figures would move). Legacy nodes: results only.
    const reported = new Map<string, number[]>();
    const stored = new Map<string, number[]>();
    for (let round = 0; round < 2; round++) {
      await fleet.heartbeatWithHistogram((nodeId) => {
        if (!reporting.includes(nodeId)) return { latenciesMs: new Array<number>(300).fill(5) };
        const values = confidences(300, round * 7 + reporting.indexOf(nodeId) * 3);
        reported.set(nodeId, [...(reported.get(nodeId) ?? []), ...values]);
        return { latenciesMs: new Array<number>(300).fill(5), confidences: values };
      });
      let ref = 0;
      await fleet.resultsOf((nodeId: string, _model: ModelRef) => {
        const values = reporting.includes(nodeId) ? new Array<number>(15).fill(0.125) : confidences(40, round * 5 + 11);
        stored.set(nodeId, [...(stored.get(nodeId) ?? []), ...values]);
        return values.map((confidence) => ({ inputRef: `conf-${round}-${ref++}`, topClass: 1, confidence }));
      });
    }
    const storedTotal = [...stored.values()].reduce((a, v) => a + v.length, 0);
    await waitFor(
      async () => ((await t.db.query(`SELECT COALESCE(sum(results), 0)::int AS results, COALESCE(sum(reported_confidences), 0)::int AS reported FROM ${rollupSource(ROLLUP_TIERS[0], `'-infinity'`)} r WHERE model_version_id = $1`, [v1.id])) as { results: number; reported: number }[])[0],
      (r) => r?.results === storedTotal && r.reported === 4 * 300,
      20_000,
      'results and heartbeats rolled up',
    );

    const expected = [...reporting.flatMap((id) => reported.get(id) ?? []), ...legacy.flatMap((id) => stored.get(id) ?? [])];
    const stats = await get<{ total: GroupStats; groups: GroupStats[] }>(`/v1/models/reported/versions/1.0.0/stats?window=1h&groupBy=node`);
    expect(stats.total).toMatchObject({ results: storedTotal, confidences: expected.length, confidence: distribution(expected) });
    expect(stats.total.meanConfidence).toBeCloseTo(mean(expected), 5);
    for (const g of stats.groups) {
      const mine = reporting.includes(g.key as string) ? (reported.get(g.key as string) ?? []) : (stored.get(g.key as string) ?? []);
      expect(g).toMatchObject({ results: stored.get(g.key as string)?.length, confidences: mine.length, confidence: distribution(mine) });
      expect(g.meanConfidence).toBeCloseTo(mean(mine), 5);
    }
    // The hourly tier agrees.
    expect((await get<{ total: GroupStats }>(`/v1/models/reported/versions/1.0.0/stats?window=7d`)).total).toEqual(stats.total);
    // Count and sum stored with each heartbeat too (what the confidence gate reads).
    const [beats] = (await t.db.query(`SELECT COALESCE(sum(confidences), 0)::int AS n, count(confidence_sum)::int AS sums FROM node_heartbeats WHERE node_id = ANY($1)`, [reporting])) as { n: number; sums: number }[];
    expect(beats).toEqual({ n: 1200, sums: 4 });
  }, 90_000);

  it('halts a rollout on the confidence gate from heartbeats alone when the canary stores no results (aggregates)', async () => {
    await createModel(t, 'gated-conf', 8, 4);
    const bytes = denseSoftmaxModel(4, 8).bytes;
    const v1 = await uploadVersion(t, 'gated-conf', { version: '1.0.0' }, bytes);
    const v2 = await uploadVersion(t, 'gated-conf', { version: '1.1.0', preprocessing: { scale: 0.5 } }, bytes);
    const ids = await enrolNodes(t, 10, { group: 'gated-conf' });
    const fleet = await startFleet(ids);
    await waitForRolloutState(t, await startRollout(t, { modelVersionId: v1.id, selector: 'group=gated-conf' }), ['completed']);
    // No results at all: every node reports 200 inferences a heartbeat with their confidences, the canary's much lower.
    const beating = setInterval(
      () =>
        void fleet
          .heartbeatWithHistogram((_id, model) => ({ latenciesMs: new Array<number>(200).fill(5), confidences: new Array<number>(200).fill(model?.version === '1.1.0' ? 0.42 : 0.91) }))
          .catch(() => undefined),
      200,
    );
    try {
      const id = await startRollout(t, {
        modelVersionId: v2.id,
        selector: 'group=gated-conf',
        resultsPolicy: { mode: 'aggregates' },
        strategy: { waves: { percentages: [20, 100] }, bakeSeconds: 8, healthGates: { minSamples: 100, windowSeconds: 5, maxConfidenceDrop: 0.2 } },
      });
      const settled = await waitForRolloutState(t, id, ['halted', 'completed'], 30_000);
      expect(settled.state).toBe('halted');
      expect(settled.haltReason).toContain('confidence gate: canary mean 0.420 vs control 0.910');
    } finally {
      clearInterval(beating);
    }
  }, 60_000);
});
