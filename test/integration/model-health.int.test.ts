import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bucketUpperBound, CONFIDENCE_BOUNDS, CONFIDENCE_BUCKET_COUNT, confidenceBucket, LATENCY_MAX_MS, latencyBucket } from '#protocol';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, reportRunning, startRollout, uploadVersion, waitForRolloutState } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { type ModelRef, SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';
import { ROLLUP_TIERS, rollupSource } from '../../apps/control-plane/src/telemetry/rollup-sql.js';

/** A deterministic pseudo-random sequence (the test's reference and the nodes see the same numbers). */
function lcg(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** Nearest-rank percentile of raw samples, to the bucket of the shared layout: what the route must return. */
function referencePercentile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return Math.min(LATENCY_MAX_MS, bucketUpperBound(latencyBucket(sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number)));
}

interface SentResult {
  readonly nodeId: string;
  readonly version: string;
  readonly inputRef: string;
  readonly topClass: number;
  readonly confidence: number;
}

interface GroupStats {
  key: string | null;
  inferences: number;
  errors: number;
  errorRate: number | null;
  latencyMs: { p50: number; p90: number; p99: number } | null;
  results: number;
  meanConfidence: number | null;
  confidence: { le: number; count: number }[];
  feedback: { labelled: number; correct: number; accuracy: number | null };
}

describe('per-version model health', () => {
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

  const get = async <T>(path: string, status = 200): Promise<T> => (await t.http().get(path).set(bearer(t.adminKey)).expect(status)).body as T;
  const startFleet = async (ids: string[]) => {
    const fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids);
    fleets.push(fleet);
    return fleet;
  };

  describe('stats and accuracy of two versions on simulated nodes', () => {
    let v1: { id: string; sha256: string };
    let v2: { id: string; sha256: string };
    const node = new Map<string, { site: string }>();
    const latencies = new Map<string, number[]>(); // per version
    const errorsSent = new Map<string, number>();
    const sent: SentResult[] = [];
    let fleet: SimulatedFleet;

    beforeAll(async () => {
      await createModel(t, 'health', 8, 4);
      v1 = await uploadVersion(t, 'health', { version: '1.0.0' }, denseSoftmaxModel(1, 8).bytes);
      v2 = await uploadVersion(t, 'health', { version: '2.0.0' }, denseSoftmaxModel(2, 8).bytes);
      const north = await enrolNodes(t, 3, { site: 'north', suite: 'health' });
      const south = await enrolNodes(t, 3, { site: 'south', suite: 'health' });
      for (const id of north) node.set(id, { site: 'north' });
      for (const id of south) node.set(id, { site: 'south' });
      const all = [...north, ...south];
      fleet = await startFleet(all);
      // v1 on two north and one south node, v2 on the others: each version spans both label values.
      const onV1 = [north[0], north[1], south[0]] as string[];
      const onV2 = all.filter((id) => !onV1.includes(id));
      await deploy(t, v1.id, { nodeIds: onV1 });
      await deploy(t, v2.id, { nodeIds: onV2 });
      await waitFor(async () => fleet.running.size, (n) => n === all.length, 20_000, 'every node running its version');
      await reportRunning(t, fleet, onV1, v1.id);
      await reportRunning(t, fleet, onV2, v2.id);

      const random = lcg(42);
      for (let round = 0; round < 2; round++) {
        const beats = await fleet.heartbeatWithHistogram((_nodeId, model) => {
          const slow = model?.version === '2.0.0' ? 3 : 1;
          return { latenciesMs: Array.from({ length: 200 }, () => slow * (0.5 + random() * 20) + (random() < 0.02 ? 400 : 0)), errors: Math.floor(random() * 5) };
        });
        for (const { model, latenciesMs, errors } of beats.values()) {
          const version = model?.version ?? '';
          latencies.set(version, [...(latencies.get(version) ?? []), ...latenciesMs]);
          errorsSent.set(version, (errorsSent.get(version) ?? 0) + errors);
        }
        let ref = 0;
        await fleet.resultsOf((nodeId, model) =>
          Array.from({ length: 40 }, () => {
            // Confidences away from bucket bounds: float32 rounding must not move one across.
            const r: SentResult = { nodeId, version: model.version, inputRef: `img-${round}-${ref++}`, topClass: Math.floor(random() * 4), confidence: 0.025 + 0.05 * Math.floor(random() * 20) };
            sent.push(r);
            return r;
          }),
        );
      }
      await waitFor(
        async () => ((await t.db.query(`SELECT COALESCE(sum(results), 0)::int AS n FROM model_version_rollups WHERE model_version_id = ANY($1)`, [[v1.id, v2.id]])) as { n: number }[])[0]?.n,
        (n) => n === sent.length,
        20_000,
        'every result rolled up',
      );
      await waitFor(
        async () =>
          ((await t.db.query(`SELECT count(*)::int AS n FROM node_heartbeats WHERE latency_hist IS NOT NULL AND node_id = ANY($1)`, [all])) as { n: number }[])[0]?.n,
        (n) => n === all.length * 2,
        20_000,
        'every histogram heartbeat stored',
      );
      // Heartbeats count as soon as they are stored: read from their rows until the rollup job has added them.
      await waitFor(
        async () => ((await t.db.query(`SELECT COALESCE(sum(errors), 0)::int AS n FROM ${rollupSource(ROLLUP_TIERS[0], `'-infinity'`)} r WHERE model_version_id = ANY($1)`, [[v1.id, v2.id]])) as { n: number }[])[0]?.n,
        (n) => n === [...errorsSent.values()].reduce((a, b) => a + b, 0),
        20_000,
        'every heartbeat rolled up',
      );
    }, 90_000);

    /** The reference for one version (optionally one group), computed from the stored raw rows and the samples sent. */
    const reference = async (version: string, versionId: string, rows: readonly SentResult[], nodes?: readonly string[]) => {
      const [beats] = (await t.db.query(
        `SELECT COALESCE(sum(inferences), 0)::int AS inferences, COALESCE(sum(errors), 0)::int AS errors FROM node_heartbeats h
          WHERE h.model_version = $1 AND h.model_name = 'health' AND ($2::uuid[] IS NULL OR h.node_id = ANY($2))`,
        [version, nodes ?? null],
      )) as { inferences: number; errors: number }[];
      const confidence = new Array<number>(CONFIDENCE_BUCKET_COUNT).fill(0);
      for (const r of rows) confidence[confidenceBucket(r.confidence)]++;
      expect(versionId).toBeTruthy();
      return {
        inferences: beats?.inferences,
        errors: beats?.errors,
        results: rows.length,
        meanConfidence: rows.reduce((a, r) => a + Math.fround(r.confidence), 0) / rows.length,
        confidence: confidence.map((count, i) => ({ le: CONFIDENCE_BOUNDS[i], count })),
      };
    };

    it('gives each version its inference and error counts, exact latency percentiles and confidence distribution', async () => {
      for (const [version, id] of [['1.0.0', v1.id], ['2.0.0', v2.id]] as const) {
        const stats = await get<{ total: GroupStats; groups: GroupStats[] }>(`/v1/models/health/versions/${version}/stats?window=1h&groupBy=node`);
        const rows = sent.filter((r) => r.version === version);
        const ref = await reference(version, id, rows);
        const samples = latencies.get(version) ?? [];
        expect(stats.total).toMatchObject({ inferences: ref.inferences, errors: ref.errors, results: ref.results, confidence: ref.confidence });
        expect(stats.total.errorRate).toBeCloseTo((ref.errors ?? 0) / (ref.inferences ?? 1), 9);
        expect(stats.total.meanConfidence).toBeCloseTo(ref.meanConfidence, 5);
        expect(stats.total.latencyMs).toEqual({ p50: referencePercentile(samples, 0.5), p90: referencePercentile(samples, 0.9), p99: referencePercentile(samples, 0.99) });
        // Per node: every node of the version, each with its own results.
        const nodesOfVersion = [...new Set(rows.map((r) => r.nodeId))].sort();
        expect(stats.groups.map((g) => g.key).sort()).toEqual(nodesOfVersion);
        for (const g of stats.groups) {
          const mine = rows.filter((r) => r.nodeId === g.key);
          const refNode = await reference(version, id, mine, [g.key as string]);
          expect(g).toMatchObject({ inferences: refNode.inferences, errors: refNode.errors, results: mine.length, confidence: refNode.confidence });
        }
      }
      // Long windows read the hourly rollups: the same figures (every row is recent).
      for (const version of ['1.0.0', '2.0.0']) {
        const [hour, week] = await Promise.all(['1h', '7d'].map((w) => get<{ total: GroupStats }>(`/v1/models/health/versions/${version}/stats?window=${w}`)));
        expect(week?.total).toEqual(hour?.total);
      }
      // The slower version is slower where it counts.
      const [a, b] = await Promise.all(['1.0.0', '2.0.0'].map((v) => get<{ total: GroupStats }>(`/v1/models/health/versions/${v}/stats`)));
      expect((b?.total.latencyMs?.p50 ?? 0) > (a?.total.latencyMs?.p50 ?? 0)).toBe(true);
    });

    it('groups by a label value', async () => {
      const stats = await get<{ groups: GroupStats[] }>(`/v1/models/health/versions/1.0.0/stats?groupBy=label:site`);
      expect(stats.groups.map((g) => g.key).sort()).toEqual(['north', 'south']);
      for (const g of stats.groups) {
        const rows = sent.filter((r) => r.version === '1.0.0' && node.get(r.nodeId)?.site === g.key);
        expect(g.results).toBe(rows.length);
        expect(g.meanConfidence).toBeCloseTo(rows.reduce((a, r) => a + Math.fround(r.confidence), 0) / rows.length, 5);
      }
    });

    it('joins feedback to stored results by input reference and reports accuracy per version and node', async () => {
      // Label half the results (the truth is the top class for every third one), plus references no result has.
      const labelled = sent.filter((_, i) => i % 2 === 0).map((r, i) => ({ ...r, label: i % 3 === 0 ? r.topClass : (r.topClass + 1) % 4 }));
      const items = labelled.map((r) => ({ nodeId: r.nodeId, inputRef: r.inputRef, label: r.label }));
      // A reference no result has, and a real one claimed by a node that did not produce it.
      const other = sent[1] as SentResult;
      const unknown = [{ inputRef: 'never-sent', label: 1 }, { nodeId: [...node.keys()].find((n) => n !== other.nodeId), inputRef: other.inputRef, label: 0 }];
      for (let i = 0; i < items.length; i += 100) {
        const res = await t.http().post('/v1/feedback').set(bearer(t.adminKey)).send({ items: items.slice(i, i + 100) }).expect(200);
        expect(res.body).toEqual({ received: Math.min(100, items.length - i), matched: Math.min(100, items.length - i), unmatched: [], pending: 0, requestedNodes: 0, rateLimitedNodes: 0 });
      }
      const refused = await t.http().post('/v1/feedback').set(bearer(t.adminKey)).send({ items: unknown }).expect(200);
      // The second names a node: its result may be kept there, so that node is asked for it and the label held.
      expect(refused.body).toEqual({ received: 2, matched: 0, unmatched: [0, 1], pending: 1, requestedNodes: 1, rateLimitedNodes: 0 });

      for (const version of ['1.0.0', '2.0.0']) {
        const mine = labelled.filter((r) => r.version === version);
        const stats = await get<{ total: GroupStats; groups: GroupStats[]; accuracyOverTime: { labelled: number; correct: number }[] }>(
          `/v1/models/health/versions/${version}/stats?groupBy=node`,
        );
        const correct = mine.filter((r) => r.label === r.topClass).length;
        expect(stats.total.feedback).toEqual({ labelled: mine.length, correct, accuracy: correct / mine.length });
        for (const g of stats.groups) {
          const ofNode = mine.filter((r) => r.nodeId === g.key);
          const ok = ofNode.filter((r) => r.label === r.topClass).length;
          expect(g.feedback).toEqual({ labelled: ofNode.length, correct: ok, accuracy: ofNode.length ? ok / ofNode.length : null });
        }
        expect(stats.accuracyOverTime.reduce((a, p) => a + p.labelled, 0)).toBe(mine.length);
      }
      // Labelling the same result again replaces its label (one row per result).
      const first = labelled[0] as SentResult & { label: number };
      await t.http().post('/v1/feedback').set(bearer(t.adminKey)).send({ items: [{ inputRef: first.inputRef, label: first.topClass }] }).expect(200);
      const rows = (await t.db.query(`SELECT label FROM inference_feedback WHERE input_ref = $1`, [first.inputRef])) as { label: number }[];
      expect(rows).toEqual([{ label: first.topClass }]);
    });

    it('refuses bad input with problem+json', async () => {
      for (const path of [
        '/v1/models/health/versions/1.0.0/stats?window=0m',
        '/v1/models/health/versions/1.0.0/stats?window=45d',
        '/v1/models/health/versions/1.0.0/stats?groupBy=zone',
        '/v1/models/health/versions/1.0.0/stats?groupBy=label:bad%20key',
      ]) {
        const res = await t.http().get(path).set(bearer(t.adminKey)).expect(400);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      }
      await t.http().get('/v1/models/health/versions/9.9.9/stats').set(bearer(t.adminKey)).expect(404);
      await t.http().get('/v1/models/nope/versions/1.0.0/stats').set(bearer(t.adminKey)).expect(404);
      for (const body of [{ items: [] }, { items: [{ inputRef: 'x' }] }, { items: [{ inputRef: 'x', label: -1 }] }, { items: Array.from({ length: 1001 }, () => ({ inputRef: 'x', label: 1 })) }, { items: [{ inputRef: 'x', label: 1, nodeId: 'nope' }] }]) {
        const res = await t.http().post('/v1/feedback').set(bearer(t.adminKey)).send(body).expect(400);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      }
    });
  });

  describe('rollout health gates on merged histograms', () => {
    it('halt when one canary node is slow: the merged p99 sees it where the mean of per-node p99s did not, and the rollout stats show both sides as the gates did', async () => {
      await createModel(t, 'gated', 8, 4);
      const bytes = denseSoftmaxModel(1, 8).bytes;
      const v1 = await uploadVersion(t, 'gated', { version: '1.0.0' }, bytes);
      const v2 = await uploadVersion(t, 'gated', { version: '1.1.0', preprocessing: { scale: 0.5 } }, bytes);
      const ids = await enrolNodes(t, 20, { group: 'gated' });
      const fleet = await startFleet(ids);
      await waitForRolloutState(t, await startRollout(t, { modelVersionId: v1.id, selector: 'group=gated' }), ['completed']);
      // Every node: 1,000 inferences at 10 ms per heartbeat, but one canary node answers all its 100 in 500 ms.
      // Mean of per-node p99s weighted by inferences: (579 × 100 + 10.8 × 3000) / 3100 ≈ 2.7× control, under the 3× gate.
      // Merged: 100 of 3,100 canary inferences (3%) are slow, so the canary p99 is 579 ms, 54× control.
      let slowNode: string | undefined;
      const window = (nodeId: string, model: ModelRef | null) => {
        if (model?.version !== '1.1.0') return { latenciesMs: new Array<number>(1000).fill(10) };
        slowNode ??= nodeId;
        return nodeId === slowNode ? { latenciesMs: new Array<number>(100).fill(500) } : { latenciesMs: new Array<number>(1000).fill(10) };
      };
      const beating = setInterval(() => void fleet.heartbeatWithHistogram(window).catch(() => undefined), 200);
      try {
        const id = await startRollout(t, {
          modelVersionId: v2.id,
          selector: 'group=gated',
          strategy: { waves: { percentages: [20, 100] }, bakeSeconds: 8, healthGates: { minSamples: 100, windowSeconds: 5, maxLatencyP99Ratio: 3 } },
        });
        const settled = await waitForRolloutState(t, id, ['halted', 'completed'], 25_000);
        expect(settled.state).toBe('halted');
        const [slow, fast] = [bucketUpperBound(latencyBucket(500)), bucketUpperBound(latencyBucket(10))];
        expect(settled.haltReason).toContain(`latency gate: canary p99 ${slow.toFixed(2)} ms is ${(slow / fast).toFixed(2)}× control ${fast.toFixed(2)} ms`);
        const stats = await get<{ canary: { nodes: number; latencyMs: { p50: number; p99: number } | null }; control: { nodes: number; latencyMs: { p50: number; p99: number } | null } }>(
          `/v1/rollouts/${id}/stats`,
        );
        expect(stats.canary).toMatchObject({ nodes: 4, latencyMs: { p50: fast, p99: slow } });
        // A canary node's heartbeats from before its switch may still be in the window: it then counts on both sides, as the gates see it.
        expect(stats.control).toMatchObject({ latencyMs: { p50: fast, p99: fast } });
        expect(stats.control.nodes).toBeGreaterThanOrEqual(16);
      } finally {
        clearInterval(beating);
      }
    }, 60_000);
  });
});
