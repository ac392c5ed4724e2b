import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { BatchWriter, type BatchWriterOptions, PartitionedBatchWriter } from '#common';
import { encodeMessage, envelopeFields, type HeartbeatMessage, type PresenceMessage, type ResultsMessage, type StatusMessage } from '#protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { isDatabaseUnavailable, isDataException } from '../database/pg-errors.js';
import { BroadcastQueue } from '../deployments/broadcast-queue.js';
import { MessagingMetrics } from '../messaging/messaging.metrics.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { PresenceRetry } from './presence-retry.js';
import { type FromNode, TelemetryRepository } from './telemetry.repository.js';

/** One telemetry stream's backlog: items not yet written and how long the oldest has waited. */
export interface IngestBacklog {
  readonly table: IngestTable;
  readonly depth: number;
  readonly oldestAgeMs: number;
}

export type IngestTable = 'node_heartbeats' | 'inference_results' | 'deployment_status_events';

/** The node an item came from, for the log line of a set-aside item. */
const nodeIdsOf = (items: readonly FromNode<unknown>[]) => items.map(({ nodeId }) => nodeId);

/**
 * Accepts validated node telemetry and writes it in batches (every `INGEST_FLUSH_MS` or
 * `INGEST_BATCH_MAX` rows). Messages are acknowledged to the broker once pushed here, so a replica that
 * crashes loses at most what it buffered (one flush interval); a graceful stop writes everything.
 *
 * A batch PostgreSQL refuses for its data (a row no column can hold got past the schema) is split until
 * that row is alone; it is set aside (counted, logged with its node) and the rest is written. Without
 * this, the batch went back to the front of the queue and every later batch from every node failed with
 * it. Any other failure (connection, timeout) is retried as before.
 */
@Injectable()
export class TelemetryService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(TelemetryService.name);
  private readonly heartbeats: PartitionedBatchWriter<FromNode<HeartbeatMessage>>;
  private readonly results: BatchWriter<FromNode<ResultsMessage>>;
  private readonly statuses: BatchWriter<FromNode<StatusMessage>>;
  private readonly presence: PresenceRetry;
  private readonly streams: ReadonlyMap<IngestTable, Pick<BatchWriter<unknown>, 'pending' | 'oldestAgeMs'>>;

  constructor(
    private readonly repository: TelemetryRepository,
    private readonly metrics: MessagingMetrics,
    private readonly mqtt: MqttConnection,
    private readonly broadcasts: BroadcastQueue,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const options = <T>(table: IngestTable, write: (batch: FromNode<T>[]) => Promise<number>, maxBatch = config.ingest.batchMax): BatchWriterOptions<FromNode<T>> => ({
      maxBatch,
      flushMs: config.ingest.flushMs,
      maxBuffered: config.ingest.batchMax * 100,
      write: async (batch) => void this.metrics.ingestedRows.inc({ table }, await write(batch)),
      isDataError: isDataException,
      onError: (error, size) => {
        this.metrics.ingestFailures.inc({ table });
        this.logger.error({ err: error, table, size }, 'ingest batch failed; will retry');
      },
      onPoison: (items, error) => {
        this.metrics.ingestPoisonRows.inc({ table }, items.length);
        this.logger.error({ err: error, table, nodeIds: nodeIdsOf(items) }, 'PostgreSQL refused a telemetry item for its data; set aside, not retried');
      },
      onDrop: (count) => this.logger.error({ table, count }, 'ingest buffer full; dropped the oldest rows'),
    });
    const writer = <T>(table: IngestTable, write: (batch: FromNode<T>[]) => Promise<number>, maxBatch?: number) => new BatchWriter<FromNode<T>>(options(table, write, maxBatch));
    // Heartbeats: INGEST_WRITERS writers at once, a node's heartbeats always through the same one (in order:
    // its row's current model and the drift events read the previous heartbeat). Statuses and results: one.
    this.heartbeats = new PartitionedBatchWriter(config.ingest.writers, (h) => h.nodeId, options('node_heartbeats', (b) => this.repository.insertHeartbeats(b)));
    // Results messages hold up to 1,000 records each: batch fewer messages.
    this.results = writer('inference_results', (b) => this.writeResults(b), Math.max(1, Math.floor(config.ingest.batchMax / 50)));
    this.statuses = writer('deployment_status_events', (b) => this.writeStatuses(b));
    this.presence = new PresenceRetry({
      write: (nodeId, message) => this.repository.recordPresence(nodeId, message),
      isTransient: isDatabaseUnavailable,
      retryMs: config.ingest.flushMs * 10,
      maxPending: config.ingest.batchMax * 100,
      onRetryFailed: (error, pending) => this.logger.warn({ err: error, pending }, 'could not store waiting presence changes; will retry'),
      onDrop: (nodeId) => this.logger.error({ nodeId }, 'too many presence changes wait for the database; dropped this one'),
    });
    this.streams = new Map<IngestTable, Pick<BatchWriter<unknown>, 'pending' | 'oldestAgeMs'>>([
      ['node_heartbeats', this.heartbeats],
      ['inference_results', this.results],
      ['deployment_status_events', this.statuses],
    ]);
  }

  /** Each stream's backlog, for /health and /metrics: a stuck or failing write shows here first. */
  backlog(now: number = Date.now()): IngestBacklog[] {
    return [...this.streams].map(([table, w]) => ({ table, depth: w.pending, oldestAgeMs: w.oldestAgeMs(now) }));
  }

  acceptHeartbeat(nodeId: string, message: HeartbeatMessage): void {
    this.heartbeats.push({ nodeId, message });
  }

  acceptResults(nodeId: string, message: ResultsMessage): void {
    this.results.push({ nodeId, message });
  }

  /**
   * Stores result records, then tells each node which of its messages are stored: the node keeps a
   * batch until then, so results survive a broker restart or a replica crash (at-least-once delivery,
   * made exactly-once in the table by (node_id, seq)).
   */
  private async writeResults(batch: FromNode<ResultsMessage>[]): Promise<number> {
    const inserted = await this.repository.insertResults(batch.flatMap(({ nodeId, message }) => message.records.map((record) => ({ nodeId, message: record }))));
    const byNode = new Map<string, string[]>();
    for (const { nodeId, message } of batch) {
      const ids = byNode.get(nodeId) ?? [];
      ids.push(message.id);
      byNode.set(nodeId, ids);
    }
    for (const [nodeId, ids] of byNode) this.acknowledge(nodeId, { results: ids });
    return inserted;
  }

  /**
   * Stores statuses, then acknowledges each one by its seq, in seq order: the node re-sends every status
   * until its own seq is acknowledged, so a status this replica acknowledged to the broker but lost in a
   * crash arrives again — an intermediate one too. One ack per status keeps the message older agents
   * parse (they read `statusSeq` as "up to here", which the last, highest ack of a batch still is).
   */
  private async writeStatuses(batch: FromNode<StatusMessage>[]): Promise<number> {
    const inserted = await this.repository.insertStatuses(batch);
    const stored = new Map<string, Set<number>>();
    for (const { nodeId, message } of batch) stored.set(nodeId, (stored.get(nodeId) ?? new Set<number>()).add(message.seq));
    for (const [nodeId, seqs] of stored) for (const statusSeq of [...seqs].sort((x, y) => x - y)) this.acknowledge(nodeId, { statusSeq });
    this.startReadyBroadcasts(batch);
    return inserted;
  }

  /**
   * A node reports `downloading` once its download store accepts chunks (any later state means it needs
   * none): the deployments whose nodes are now all ready get their broadcast at once. Not awaited; if
   * this fails, the broadcast starts when its bounded wait runs out.
   */
  private startReadyBroadcasts(batch: readonly FromNode<StatusMessage>[]): void {
    const reported = batch.filter(({ message }) => message.state !== 'received').map(({ message }) => message.deploymentId);
    if (reported.length === 0) return;
    this.broadcasts.targetsReported(reported).catch((error: unknown) => this.logger.warn({ err: error }, 'could not start the broadcasts of ready deployments'));
  }

  /**
   * Tells a node what is stored. Not awaited: the next batch need not wait for the broker, and an ack
   * that is lost only makes the node send again (stored once).
   */
  private acknowledge(nodeId: string, ack: { results?: string[]; statusSeq?: number }): void {
    this.mqtt
      .publish(this.mqtt.topics.acks(nodeId), encodeMessage('acks', { ...envelopeFields(), ...ack }), { qos: 1 })
      .catch((error: unknown) => this.logger.warn({ err: error, nodeId }, 'could not send an ack; the node will resend'));
  }

  acceptStatus(nodeId: string, message: StatusMessage): void {
    this.statuses.push({ nodeId, message });
  }

  /** Stored now, or (the database unreachable) kept as the node's latest and retried: see PresenceRetry. */
  acceptPresence(nodeId: string, message: PresenceMessage): Promise<void> {
    return this.presence.record(nodeId, message);
  }

  /** Writes everything buffered so far (tests and shutdown). */
  async flush(): Promise<void> {
    await Promise.all([this.heartbeats.flush(), this.results.flush(), this.statuses.flush()]);
  }

  /**
   * A graceful stop: after the MQTT connection stopped taking messages (onModuleDestroy), before it
   * disconnects and before the database closes (onApplicationShutdown), write what was taken and send its acks.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const presenceLeft = this.presence.close();
    if (presenceLeft > 0) this.logger.error({ count: presenceLeft }, 'stopping with presence changes the database did not take; not stored');
    const tables: IngestTable[] = ['node_heartbeats', 'inference_results', 'deployment_status_events'];
    const left = await Promise.all([this.heartbeats.close(), this.results.close(), this.statuses.close()]);
    // The database is down at stop: what nodes re-send until acknowledged (statuses, results) comes again; heartbeats do not.
    tables.forEach((table, i) => {
      if ((left[i] ?? 0) > 0) this.logger.error({ table, count: left[i] }, 'stopping with telemetry the database did not take; not stored');
    });
  }
}
