import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { BatchWriter } from '#common';
import type { HeartbeatMessage, PresenceMessage, ResultsMessage, StatusMessage } from '#protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MessagingMetrics } from '../messaging/messaging.metrics.js';
import { type FromNode, TelemetryRepository } from './telemetry.repository.js';

type ResultRecord = ResultsMessage['records'][number];

/**
 * Accepts validated node telemetry and writes it in batches (every `INGEST_FLUSH_MS` or
 * `INGEST_BATCH_MAX` rows). Messages are acknowledged to the broker on receipt, so a replica that
 * crashes loses at most what it buffered (one flush interval); a graceful stop writes everything.
 */
@Injectable()
export class TelemetryService implements OnModuleDestroy {
  private readonly logger = new Logger(TelemetryService.name);
  private readonly heartbeats: BatchWriter<FromNode<HeartbeatMessage>>;
  private readonly results: BatchWriter<FromNode<ResultRecord>>;
  private readonly statuses: BatchWriter<FromNode<StatusMessage>>;

  constructor(
    private readonly repository: TelemetryRepository,
    private readonly metrics: MessagingMetrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const writer = <T>(table: string, write: (batch: FromNode<T>[]) => Promise<number>) =>
      new BatchWriter<FromNode<T>>({
        maxBatch: config.ingest.batchMax,
        flushMs: config.ingest.flushMs,
        maxBuffered: config.ingest.batchMax * 100,
        write: async (batch) => void this.metrics.ingestedRows.inc({ table }, await write(batch)),
        onError: (error, size) => {
          this.metrics.ingestFailures.inc({ table });
          this.logger.error({ err: error, table, size }, 'ingest batch failed; will retry');
        },
        onDrop: (count) => this.logger.error({ table, count }, 'ingest buffer full; dropped the oldest rows'),
      });
    this.heartbeats = writer('node_heartbeats', (b) => this.repository.insertHeartbeats(b));
    this.results = writer('inference_results', (b) => this.repository.insertResults(b));
    this.statuses = writer('deployment_status_events', (b) => this.repository.insertStatuses(b));
  }

  acceptHeartbeat(nodeId: string, message: HeartbeatMessage): void {
    this.heartbeats.push({ nodeId, message });
  }

  acceptResults(nodeId: string, message: ResultsMessage): void {
    this.results.push(...message.records.map((record) => ({ nodeId, message: record })));
  }

  acceptStatus(nodeId: string, message: StatusMessage): void {
    this.statuses.push({ nodeId, message });
  }

  acceptPresence(nodeId: string, message: PresenceMessage): Promise<void> {
    return this.repository.recordPresence(nodeId, message);
  }

  /** Writes everything buffered so far (tests and shutdown). */
  async flush(): Promise<void> {
    await Promise.all([this.heartbeats.flush(), this.results.flush(), this.statuses.flush()]);
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([this.heartbeats.close(), this.results.close(), this.statuses.close()]);
  }
}
