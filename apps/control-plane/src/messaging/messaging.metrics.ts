import { Inject, Injectable } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { METRICS_REGISTRY } from '../metrics/metrics.controller.js';

/** What the MQTT gateway counts: received and invalid messages, chunk publishes, repair outcomes, ingested and poison rows. */
@Injectable()
export class MessagingMetrics {
  readonly received: Counter<'kind'>;
  readonly invalid: Counter<'kind' | 'reason'>;
  readonly chunkPublishes: Counter<'mode'>;
  readonly repairRequests: Counter<'outcome'>;
  readonly ingestedRows: Counter<'table'>;
  readonly ingestFailures: Counter<'table'>;
  readonly ingestPoisonRows: Counter<'table'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.received = new Counter({ name: 'edgefleet_mqtt_messages_total', help: 'Valid node messages received', labelNames: ['kind'], registers: [registry] });
    this.invalid = new Counter({
      name: 'edgefleet_mqtt_invalid_messages_total',
      help: 'Node messages refused at the edge, by kind and reason',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    });
    this.chunkPublishes = new Counter({
      name: 'edgefleet_artifact_chunk_publishes_total',
      help: 'Artifact chunks published: broadcast once per deployment, repair per node',
      labelNames: ['mode'],
      registers: [registry],
    });
    this.repairRequests = new Counter({
      name: 'edgefleet_artifact_repair_requests_total',
      help: 'Repair requests by outcome: answered, duplicate (every chunk sent within the resend window), partial or cap-exceeded (repair byte cap), rate-limited, not-assigned',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.ingestedRows = new Counter({ name: 'edgefleet_ingested_rows_total', help: 'Rows written by batched ingest', labelNames: ['table'], registers: [registry] });
    this.ingestFailures = new Counter({ name: 'edgefleet_ingest_failures_total', help: 'Ingest batches failed transiently (retried)', labelNames: ['table'], registers: [registry] });
    this.ingestPoisonRows = new Counter({
      name: 'edgefleet_ingest_poison_rows_total',
      help: 'Telemetry items PostgreSQL refused for their data (SQLSTATE class 22/23): set aside, not retried',
      labelNames: ['table'],
      registers: [registry],
    });
  }
}
