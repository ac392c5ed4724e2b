import { expect } from '@jest/globals';
import { waitFor } from './agent-process.js';
import { createModel, getRollout, rolloutNodes, seedNodes, startRollout, uploadVersion } from './fleet.js';
import { denseSoftmaxModel } from './onnx-model.js';
import { SimulatedFleet } from './simulated-fleet.js';
import type { TestBroker } from './test-broker.js';
import type { TestApp } from './test-app.js';

export const OUTAGE_NODES = 50;

/** GET /health: its status code, the names of the checks that failed, and the heartbeats waiting to be written. */
export async function healthOf(t: TestApp): Promise<{ code: number; down: string[]; heartbeatBacklog: number }> {
  const res = await t.http().get('/health');
  const body = res.body as { error?: Record<string, unknown>; details?: { ingest?: { streams?: Record<string, { depth?: number }> } } };
  return { code: res.status, down: Object.keys(body.error ?? {}), heartbeatBacklog: body.details?.ingest?.streams?.['node_heartbeats']?.depth ?? 0 };
}

/**
 * A rollout of one version to OUTAGE_NODES simulated nodes in waves of 5, 10, 20, 15 with a bake between
 * them, while every node heartbeats and sends a results batch each second (the traffic a dependency
 * outage must not lose). `stop()` ends the traffic and the fleet.
 */
export class OutageRollout {
  private traffic?: NodeJS.Timeout;
  private beating: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly t: TestApp,
    readonly fleet: SimulatedFleet,
    readonly nodeIds: readonly string[],
    readonly rolloutId: string,
  ) {}

  static async start(t: TestApp, broker: TestBroker, label: string, bakeSeconds: number): Promise<OutageRollout> {
    await createModel(t, label, 8, 4);
    const version = await uploadVersion(t, label, { version: '1.0.0' }, denseSoftmaxModel(41, 8).bytes);
    // Seeded, not enrolled over HTTP: the outages are the point, and the test broker is anonymous.
    const ids = await seedNodes(t, OUTAGE_NODES, { outage: label });
    const fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids);
    const strategy = { waves: { exponential: { first: 5, factor: 2 } }, bakeSeconds };
    const rolloutId = await startRollout(t, { modelVersionId: version.id, selector: `outage=${label}`, strategy });
    const rollout = new OutageRollout(t, fleet, ids, rolloutId);
    rollout.traffic = setInterval(() => {
      // One round at a time: a slow broker must not pile rounds up.
      rollout.beating = rollout.beating.then(() => Promise.all([fleet.heartbeat(() => 10), fleet.results(() => 0.9, 3)])).catch(() => undefined);
    }, 1000);
    return rollout;
  }

  state(): Promise<string> {
    return getRollout(this.t, this.rolloutId).then((r) => r.state);
  }

  /** Nodes of the rollout that have committed so far. */
  async committed(): Promise<number> {
    return (await rolloutNodes(this.t, this.rolloutId)).filter((n) => n.state === 'succeeded').length;
  }

  /** Waits until the rollout is past its first wave and not finished: the moment to take a dependency down. */
  async midway(): Promise<number> {
    return waitFor(() => this.committed(), (n) => n >= 5 && n < OUTAGE_NODES - 15, 90_000, 'rollout past its first wave');
  }

  async stopTraffic(): Promise<void> {
    clearInterval(this.traffic);
    await this.beating;
  }

  async stop(): Promise<void> {
    await this.stopTraffic();
    await this.fleet.stop();
  }

  /**
   * The rollout completed and nothing was lost or doubled: each node deployed once, sent `received` then
   * `committed` once and each is stored once (by node and seq); every heartbeat the broker accepted is stored
   * (by node and seq); every results batch is acknowledged, and every acknowledged record stored once.
   * Call after the traffic stopped. Returns the counts compared.
   */
  async expectNothingLost(): Promise<{ heartbeats: number; results: number; statuses: number }> {
    const { t, fleet, nodeIds, rolloutId } = this;
    const nodes = await rolloutNodes(t, rolloutId);
    expect(nodes).toHaveLength(OUTAGE_NODES);
    expect(nodes.filter((n) => n.state !== 'succeeded' || n.attempts !== 1)).toEqual([]);
    const perNode = (await t.db.query(
      `SELECT dt.node_id, count(*)::int AS n FROM deployment_targets dt JOIN deployments d ON d.id = dt.deployment_id WHERE d.rollout_id = $1 GROUP BY dt.node_id`,
      [rolloutId],
    )) as { node_id: string; n: number }[];
    expect(perNode.filter((r) => r.n !== 1)).toEqual([]);
    expect(perNode).toHaveLength(OUTAGE_NODES);
    expect(nodeIds.filter((id) => fleet.received.get(id)?.length !== 1)).toEqual([]);

    // Statuses are re-sent until acknowledged as stored: all must be acknowledged, and stored once each.
    await waitFor(async () => fleet.unackedStatuses, (n) => n === 0, 30_000, 'every status acknowledged');
    const statuses = (await t.db.query(
      `SELECT node_id, count(*)::int AS n, count(DISTINCT seq)::int AS seqs, string_agg(state::text, ',' ORDER BY seq) AS states
         FROM deployment_status_events WHERE node_id = ANY($1) GROUP BY node_id`,
      [nodeIds],
    )) as { node_id: string; n: number; seqs: number; states: string }[];
    expect(statuses).toHaveLength(OUTAGE_NODES);
    expect(statuses.filter((s) => s.n !== 2 || s.seqs !== 2 || s.states !== 'received,committed')).toEqual([]);

    // Heartbeats are sent once (a node does not re-send them): each one the broker accepted must be stored.
    const sentHeartbeats = [...fleet.heartbeatsSent].flatMap(([nodeId, seqs]) => seqs.map((seq) => `${nodeId}/${seq}`));
    const storedHeartbeats = await waitFor(
      () => keysOf(t, `SELECT node_id::text || '/' || seq AS k FROM node_heartbeats WHERE node_id = ANY($1)`, nodeIds),
      (stored) => sentHeartbeats.every((k) => stored.has(k)),
      30_000,
      'every heartbeat stored',
    ).catch(() => keysOf(t, `SELECT node_id::text || '/' || seq AS k FROM node_heartbeats WHERE node_id = ANY($1)`, nodeIds));
    expect(sentHeartbeats.filter((k) => !storedHeartbeats.has(k))).toEqual([]);

    // Results: every batch acknowledged (the writer retried until stored), each acknowledged record stored once.
    await waitFor(async () => [...fleet.resultsSent.keys()].filter((id) => !fleet.resultsAcked.has(id)).length, (n) => n === 0, 30_000, 'every results batch acknowledged').catch(() => undefined);
    expect([...fleet.resultsSent.keys()].filter((id) => !fleet.resultsAcked.has(id))).toEqual([]);
    const ackedRecords = [...fleet.resultsSent].filter(([id]) => fleet.resultsAcked.has(id)).flatMap(([, m]) => m.seqs.map((seq) => `${m.nodeId}/${seq}`));
    const storedRecords = (await t.db.query(
      `SELECT node_id::text || '/' || seq AS k, count(*)::int AS n FROM inference_results WHERE node_id = ANY($1) GROUP BY 1`,
      [nodeIds],
    )) as { k: string; n: number }[];
    expect(storedRecords.filter((r) => r.n !== 1)).toEqual([]);
    const storedSet = new Set(storedRecords.map((r) => r.k));
    expect(ackedRecords.filter((k) => !storedSet.has(k))).toEqual([]);
    return { heartbeats: sentHeartbeats.length, results: ackedRecords.length, statuses: statuses.length * 2 };
  }
}

async function keysOf(t: TestApp, sql: string, nodeIds: readonly string[]): Promise<Set<string>> {
  return new Set(((await t.db.query(sql, [nodeIds])) as { k: string }[]).map((r) => r.k));
}
