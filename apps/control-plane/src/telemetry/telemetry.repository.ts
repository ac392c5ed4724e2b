import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { type CopyValue, copyRowsOrFallback } from '../database/copy-rows.js';
import { confidenceColumns, insertResultsWithRollups, latencyHistLiteral } from './rollup-sql.js';
import { targetStatuses } from './status-outcome.js';
import { JOIN_PENDING_FEEDBACK } from './pending-feedback-join.js';
import { DEFAULT_DRIFT_EVENT_THRESHOLD, DriftEvents } from './drift-events.repository.js';
import type { EventType } from '../events/catalogue.js';
import { type HeartbeatMessage, type PresenceMessage, type ResultsMessage, type StatusMessage, TERMINAL_DEPLOYMENT_STATES } from '#protocol';

export interface FromNode<T> {
  readonly nodeId: string;
  readonly message: T;
}

type ResultRecord = ResultsMessage['records'][number];

/** How stale `nodes.last_seen_at` may get before a heartbeat rewrites it. */
const LAST_SEEN_RESOLUTION_MS = 5000;

const HEARTBEAT_COLUMNS = [
  'node_id',
  'seq',
  'sent_at',
  'model_sha256',
  'uptime_s',
  'cpu',
  'mem_mb',
  'free_disk_mb',
  'inferences',
  'errors',
  'latency_p50_ms',
  'latency_p99_ms',
  'model_name',
  'model_version',
  'model_variant',
  'latency_hist',
  'confidences',
  'confidence_sum',
  'confidence_hist',
  'drift_input',
  'drift_confidence',
  'drift_samples',
] as const;

/**
 * Batched writes of node telemetry. Each batch is one INSERT ... SELECT FROM unnest(...) (a single
 * round trip for any number of rows) with ON CONFLICT DO NOTHING on (node_id, seq, node's time): a message
 * delivered twice (QoS 1, shared subscriptions) carries the same time and is stored once. The time is part of
 * the key because it is the partition key (migration 1764750000000). Returns the number of rows actually inserted.
 */
/** How long a node's newest heartbeat seq keeps an older one from setting its current model (out-of-order delivery spans seconds). */
const ORDER_WINDOW = '1 minute';

@Injectable()
export class TelemetryRepository {
  /** When this replica last wrote each node's row, and with which model digest. */
  private readonly touched = new Map<string, { at: number; sha256: string | null }>();

  private readonly rollups: boolean;

  private readonly driftEvents: DriftEvents;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) config: { readonly ingest: Pick<AppConfig['ingest'], 'rollups'>; readonly drift?: AppConfig['drift'] },
  ) {
    this.rollups = config.ingest.rollups;
    this.driftEvents = new DriftEvents(db, config.drift?.eventThreshold ?? DEFAULT_DRIFT_EVENT_THRESHOLD);
  }

  async insertHeartbeats(batch: readonly FromNode<HeartbeatMessage>[]): Promise<number> {
    const rows = batch.map(({ nodeId, message: m }): CopyValue[] => [
      nodeId,
      m.seq,
      m.ts,
      m.model?.sha256 ?? null,
      m.uptimeS,
      m.cpu,
      m.memMb,
      m.freeDiskMb,
      m.inferences,
      m.errors,
      m.latencyMs?.p50 ?? null,
      m.latencyMs?.p99 ?? null,
      m.model?.name ?? null,
      m.model?.version ?? null,
      m.model?.variant ?? null,
      latencyHistLiteral(m),
      ...confidenceColumns(m),
      m.drift?.input ?? null,
      m.drift?.confidence ?? null,
      m.drift?.samples ?? null,
    ]);
    // COPY stores every row or none; the fallback says which rows were new (a redelivery raises its drift event once).
    let stored: readonly FromNode<HeartbeatMessage>[] = batch;
    const inserted = await copyRowsOrFallback(this.db, 'node_heartbeats', HEARTBEAT_COLUMNS, rows, async () => {
      const result = (await this.db.query(
        `INSERT INTO node_heartbeats (${HEARTBEAT_COLUMNS.join(', ')})
         SELECT u.node_id, u.seq, u.sent_at, u.sha, u.uptime_s, u.cpu, u.mem_mb, u.free_disk_mb, u.inferences, u.errors, u.p50, u.p99, u.name, u.version, u.variant, u.hist,
                u.confidences, u.confidence_sum, u.confidence_hist, u.drift_input, u.drift_confidence, u.drift_samples
           FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::char(64)[], $5::bigint[], $6::real[], $7::int[], $8::int[],
                       $9::bigint[], $10::bigint[], $11::real[], $12::real[], $13::varchar[], $14::varchar[], $15::varchar[], $16::numeric[],
                       $17::bigint[], $18::float8[], $19::numeric[], $20::real[], $21::real[], $22::int[])
                AS u(node_id, seq, sent_at, sha, uptime_s, cpu, mem_mb, free_disk_mb, inferences, errors, p50, p99, name, version, variant, hist,
                     confidences, confidence_sum, confidence_hist, drift_input, drift_confidence, drift_samples)
         ON CONFLICT DO NOTHING RETURNING node_id AS "nodeId", seq::float8 AS seq`,
        columns(rows, (r) => r),
      )) as { nodeId: string; seq: number }[];
      const fresh = new Set(result.map((r) => `${r.nodeId}/${r.seq}`));
      stored = batch.filter(({ nodeId, message }) => fresh.has(`${nodeId}/${message.seq}`));
      return result.length;
    });
    await this.driftEvents.record(stored);
    await this.touchNodes(batch);
    return inserted;
  }

  /**
   * Marks the batch's nodes online and seen, and records the model each last reported (matched to a
   * registered version by name, version, variant and artifact digest; null when it matches none).
   * A node row is rewritten only when something changed or `last_seen_at` is older than
   * LAST_SEEN_RESOLUTION_MS: heartbeats from a steady fleet then cost inserts only, not node updates.
   */
  private async touchNodes(batch: readonly FromNode<HeartbeatMessage>[]): Promise<void> {
    const latest = new Map<string, HeartbeatMessage>();
    for (const { nodeId, message } of batch) {
      const seen = latest.get(nodeId);
      if (!seen || seen.seq < message.seq) latest.set(nodeId, message);
    }
    // Skip nodes this replica marked seen moments ago with the same model: the row would not change.
    const now = Date.now();
    const rows = [...latest.entries()].filter(([id, m]) => {
      const last = this.touched.get(id);
      return !last || now - last.at >= LAST_SEEN_RESOLUTION_MS || last.sha256 !== (m.model?.sha256 ?? null);
    });
    if (rows.length === 0) return;
    // A node that was not online becomes so: node.online, in the same statement (the rows are read
    // locked, in id order, so concurrent batches agree on the change and do not deadlock). FOR NO KEY
    // UPDATE, the lock the UPDATE takes anyway: FOR UPDATE also blocks the FOR KEY SHARE locks that another
    // writer's COPY takes on the same nodes (its foreign key checks, in arrival order), and the two deadlocked.
    // The current model follows the node's order (heartbeat seq), not the order of arrival: two replicas
    // (or two writers) can store a node's heartbeats out of order, and the older must not win. Only for a
    // minute (ORDER_WINDOW): a seq far ahead (a forged one, a device clock set back) cannot freeze the model.
    await this.db.query(
      `WITH v AS (
         SELECT u.id, u.seq, (SELECT mv.id FROM model_versions mv JOIN models m ON m.id = mv.model_id
                              WHERE mv.artifact_sha256 = u.sha AND m.name = u.model AND mv.version = u.version AND mv.variant = u.variant) AS mv
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::char(64)[], $8::bigint[]) AS u(id, model, version, variant, sha, seq)),
       old AS (SELECT id, status, last_heartbeat_seq AS seq, last_heartbeat_seq_at AS seq_at FROM nodes WHERE id IN (SELECT id FROM v) ORDER BY id FOR NO KEY UPDATE),
       k AS (SELECT v.id, v.seq, v.mv, old.status AS was, COALESCE(v.seq < old.seq AND old.seq_at > now() - interval '${ORDER_WINDOW}', false) AS stale FROM v JOIN old ON old.id = v.id),
       moved AS (
         UPDATE nodes n SET last_seen_at = now(), status = 'online',
                current_model_version_id = CASE WHEN k.stale THEN n.current_model_version_id ELSE k.mv END,
                last_heartbeat_seq = CASE WHEN k.stale THEN n.last_heartbeat_seq ELSE k.seq END,
                last_heartbeat_seq_at = CASE WHEN k.stale THEN n.last_heartbeat_seq_at ELSE now() END
         FROM k
         WHERE n.id = k.id AND n.status <> 'decommissioned'
           AND (n.status <> 'online' OR n.last_seen_at IS NULL OR n.last_seen_at < now() - $6::interval
                OR (n.current_model_version_id IS DISTINCT FROM k.mv AND NOT k.stale))
         RETURNING n.id, n.current_model_version_id, k.was)
       INSERT INTO events (type, node_id, model_version_id) SELECT $7, id, current_model_version_id FROM moved WHERE was <> 'online' ORDER BY id`,
      [
        rows.map(([id]) => id),
        rows.map(([, m]) => m.model?.name ?? null),
        rows.map(([, m]) => m.model?.version ?? null),
        rows.map(([, m]) => m.model?.variant ?? null),
        rows.map(([, m]) => m.model?.sha256 ?? null),
        `${LAST_SEEN_RESOLUTION_MS} milliseconds`,
        'node.online' satisfies EventType,
        rows.map(([, m]) => m.seq),
      ],
    );
    for (const [id, m] of rows) this.touched.set(id, { at: now, sha256: m.model?.sha256 ?? null });
  }

  /**
   * Stores result records, each attributed to the model version the node served it with: resolved here
   * from the reported name, version and variant, and only when that version has the reported digest
   * (null otherwise, and for agents that report no version).
   */
  async insertResults(batch: readonly FromNode<ResultRecord>[]): Promise<number> {
    const cols = columns(batch, ({ nodeId, message: r }) => [
      nodeId,
      r.seq,
      r.ts,
      r.modelSha256,
      r.model?.name ?? null,
      r.model?.version ?? null,
      r.model?.variant ?? null,
      r.inputRef ?? null,
      r.topClass,
      r.confidence,
      r.latencyMs,
      r.output ? JSON.stringify(r.output) : null,
    ]);
    const insert = `INSERT INTO inference_results (node_id, seq, at, model_sha256, model_version_id, input_ref, top_class, confidence, latency_ms, output)
       SELECT u.node_id, u.seq, u.at, u.sha, mv.id, u.input_ref, u.top_class, u.confidence, u.latency_ms, u.output
         FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::char(64)[], $5::varchar[], $6::varchar[], $7::varchar[],
                     $8::varchar[], $9::int[], $10::real[], $11::real[], $12::jsonb[])
                AS u(node_id, seq, at, sha, model, version, variant, input_ref, top_class, confidence, latency_ms, output)
         LEFT JOIN models m ON m.name = u.model
         LEFT JOIN model_versions mv ON mv.model_id = m.id AND mv.version = u.version AND mv.variant = u.variant AND mv.artifact_sha256 = u.sha
       ON CONFLICT DO NOTHING RETURNING node_id, model_version_id, confidence`;
    let inserted: number;
    if (!this.rollups) inserted = ((await this.db.query(insert, cols)) as unknown[]).length;
    else inserted = ((await this.db.query(insertResultsWithRollups(insert), cols)) as { n: number }[])[0]?.n ?? 0;
    await this.joinPendingFeedback(batch);
    return inserted;
  }

  /** Labels waiting for these results (POST /v1/feedback asked their nodes for them) become feedback now. */
  private async joinPendingFeedback(batch: readonly FromNode<ResultRecord>[]): Promise<void> {
    const referenced = batch.filter(({ message }) => message.inputRef !== undefined);
    if (referenced.length === 0) return;
    await this.db.query(JOIN_PENDING_FEEDBACK, columns(referenced, ({ nodeId, message: r }) => [nodeId, r.seq, r.inputRef, r.ts]));
  }

  /** Stores status events and moves each deployment target to the state they leave it in (an outcome is final). */
  async insertStatuses(batch: readonly FromNode<StatusMessage>[]): Promise<number> {
    const inserted = await this.storeStatusesOnce(batch);
    // An outcome is final (replacesDeploymentState): no later status — a late `rejected:expired`, a
    // refusal of a forged document from an older agent, a replay that starts over — moves a target out
    // of a terminal state, except `failed` → `rolled-back`. The batch is folded under the same rule
    // first, so statuses flushed together act as if they came one by one. A target with no state yet
    // takes any (`NULL = ANY(…)` is NULL, hence the explicit test).
    const outcome = columns(targetStatuses(batch), ({ nodeId, message: s }) => [nodeId, s.seq, s.deploymentId, s.state, s.progress ?? null, s.reason ?? null, s.detail ?? null]);
    // A target reaching committed, or a failure (failed, rolled-back, rejected), is an event (node.committed /
    // node.failed) written by the same statement: set-based, and once per target, since an outcome is final
    // (failed → rolled-back, the one move between outcomes, is not a second failure). The targets are read
    // locked, in key order, so concurrent batches agree on the state each moved from.
    await this.db.query(
      `WITH v AS (
         SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::deployment_state[], $5::real[], $6::varchar[], $7::text[])
                  AS v(node_id, seq, deployment_id, state, progress, reason, detail)),
       old AS (
         SELECT t.node_id, t.deployment_id, t.state FROM deployment_targets t JOIN v ON t.node_id = v.node_id AND t.deployment_id = v.deployment_id
          ORDER BY t.deployment_id, t.node_id FOR UPDATE OF t),
       moved AS (
         UPDATE deployment_targets t SET state = v.state, state_seq = v.seq, progress = v.progress, updated_at = now(),
                -- A node may say its update was cancelled only where a stop was signed to it (a cancel is
                -- retried on resume, not counted): otherwise it failed for a reason of its own.
                reason = CASE WHEN v.reason = 'cancelled' AND t.shadow_abandon_cause IS DISTINCT FROM 'stopped' THEN 'internal' ELSE v.reason END,
                detail = CASE WHEN v.reason = 'cancelled' AND t.shadow_abandon_cause IS DISTINCT FROM 'stopped'
                              THEN left('reported cancelled, but no stop was sent to it: ' || COALESCE(v.detail, ''), 1000) ELSE v.detail END
         FROM v JOIN old ON old.node_id = v.node_id AND old.deployment_id = v.deployment_id
         WHERE t.node_id = v.node_id AND t.deployment_id = v.deployment_id AND (t.state_seq IS NULL OR t.state_seq < v.seq)
           AND (t.state IS NULL OR NOT (t.state = ANY($8::deployment_state[])) OR (t.state = 'failed' AND v.state = 'rolled-back'))
         RETURNING t.node_id, t.deployment_id, t.state, t.reason, old.state AS was)
       INSERT INTO events (type, rollout_id, node_id, model_version_id, payload)
       SELECT CASE WHEN m.state = 'committed' THEN $9 ELSE $10 END, d.rollout_id, m.node_id, d.model_version_id,
              CASE WHEN m.state = 'committed' THEN jsonb_build_object('deploymentId', m.deployment_id)
                   ELSE jsonb_build_object('deploymentId', m.deployment_id, 'state', m.state, 'reason', m.reason) END
         FROM moved m JOIN deployments d ON d.id = m.deployment_id
        WHERE m.state = 'committed' OR (m.state IN ('failed', 'rolled-back', 'rejected') AND m.was IS DISTINCT FROM 'failed')
        ORDER BY m.node_id`,
      [...outcome, TERMINAL_DEPLOYMENT_STATES, 'node.committed' satisfies EventType, 'node.failed' satisfies EventType],
    );
    return inserted;
  }

  /**
   * Stores each (node, seq) once. The key alone cannot say so: it holds `sent_at` (the partition key), and
   * an agent re-sending an unacknowledged status stamps it anew (envelopeFields at each send). So a status
   * is stored only if its node has no row with its seq yet (and once per batch), under a lock per node held
   * to the commit: two replicas handed copies of one status (shared subscription) cannot both find none.
   * Statuses are few (a handful per deployment and node), so the lock and the probe cost little.
   */
  private async storeStatusesOnce(batch: readonly FromNode<StatusMessage>[]): Promise<number> {
    if (batch.length === 0) return 0;
    const cols = columns(batch, ({ nodeId, message: s }) => [nodeId, s.seq, s.deploymentId, s.state, s.progress ?? null, s.reason ?? null, s.detail ?? null, s.ts]);
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('status:' || id::text, 0)) FROM (SELECT DISTINCT unnest($1::uuid[]) AS id ORDER BY 1) ids`, [cols[0]]);
      const rows = (await tx.query(
        `INSERT INTO deployment_status_events (node_id, seq, deployment_id, state, progress, reason, detail, sent_at)
         SELECT DISTINCT ON (u.node_id, u.seq) u.*
           FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::deployment_state[], $5::real[], $6::varchar[], $7::text[], $8::timestamptz[])
                AS u(node_id, seq, deployment_id, state, progress, reason, detail, sent_at)
          WHERE NOT EXISTS (SELECT 1 FROM deployment_status_events e WHERE e.node_id = u.node_id AND e.seq = u.seq)
          ORDER BY u.node_id, u.seq, u.sent_at
         ON CONFLICT DO NOTHING RETURNING 1`,
        cols,
      )) as unknown[];
      return rows.length;
    });
  }

  async recordPresence(nodeId: string, presence: PresenceMessage): Promise<void> {
    // The row is read locked first, so two replicas handling messages of one node agree on what changed
    // (node.online / node.offline once per change). NO KEY: heartbeat COPYs (foreign key checks) need not wait.
    await this.db.query(
      `WITH old AS (SELECT id, status FROM nodes WHERE id = $1 FOR NO KEY UPDATE),
            moved AS (UPDATE nodes n SET status = $2::node_status, agent_version = COALESCE($3, n.agent_version),
                             -- An offline node's retained presence is delivered again at every subscribe: not a sighting.
                             last_seen_at = CASE WHEN $2::node_status = 'online' OR old.status <> $2::node_status THEN now() ELSE n.last_seen_at END
                        FROM old WHERE n.id = old.id AND n.status <> 'decommissioned'
                      RETURNING n.id, old.status AS was)
       INSERT INTO events (type, node_id) SELECT $4, id FROM moved WHERE was <> $2::node_status`,
      [nodeId, presence.online ? 'online' : 'offline', presence.agentVersion ?? null, (presence.online ? 'node.online' : 'node.offline') satisfies EventType],
    );
  }
}

/** Row values → one array per column, the shape unnest() takes. */
function columns<T>(rows: readonly T[], toRow: (row: T) => unknown[]): unknown[][] {
  const out: unknown[][] = [];
  for (const row of rows) {
    toRow(row).forEach((value, i) => (out[i] ??= []).push(value));
  }
  return out;
}
