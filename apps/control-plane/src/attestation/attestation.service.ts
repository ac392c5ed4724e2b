import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { BatchWriter } from '#common';
import type { HeartbeatMessage } from '#protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { METRICS_REGISTRY } from '../metrics/metrics.controller.js';
import { type AttestationReport, judge } from './attestation-judge.js';
import type { NewEvent } from '../events/catalogue.js';
import { AttestationNonces } from './attestation-nonces.js';
import { type AttestationRow, AttestationRepository } from './attestation.repository.js';

/**
 * Judges the attestation reports heartbeats carry, in batches off the ingest path: one query for the
 * batch's nodes (key, last committed release), Ed25519 verification, one UPDATE of their verdicts. A
 * node turning `mismatch` or `invalid` is logged once per transition; every report is counted.
 */
@Injectable()
export class AttestationService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(AttestationService.name);
  private readonly reports: BatchWriter<AttestationReport>;
  private readonly judged: Counter<'result'>;

  constructor(
    private readonly repository: AttestationRepository,
    private readonly nonces: AttestationNonces,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.judged = new Counter({
      name: 'edgefleet_attestation_reports_total',
      help: 'Attestation reports by result: verified, mismatch, invalid, or not judged (stale-nonce, no-key)',
      labelNames: ['result'],
      registers: [registry],
    });
    this.reports = new BatchWriter<AttestationReport>({
      maxBatch: 500,
      flushMs: config.ingest.flushMs,
      maxBuffered: 50_000,
      write: (batch) => this.judgeBatch(batch),
      onError: (error, size) => this.logger.error({ err: error, size }, 'could not judge attestation reports; will retry'),
      onDrop: (count) => this.logger.error({ count }, 'attestation buffer full; dropped the oldest reports'),
    });
  }

  accept(nodeId: string, heartbeat: HeartbeatMessage): void {
    const a = heartbeat.attestation;
    if (!a) return;
    this.reports.push({ nodeId, nonce: a.nonce, sha256: a.sha256, sig: a.sig, claimedSha256: heartbeat.model?.sha256 ?? null });
  }

  /** Judges everything accepted so far (tests and a graceful stop). */
  flush(): Promise<void> {
    return this.reports.flush();
  }

  /** After the MQTT connection stopped taking heartbeats (onModuleDestroy), so none is pushed once closed. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.reports.close();
  }

  private async judgeBatch(batch: AttestationReport[]): Promise<void> {
    const latest = new Map(batch.map((r) => [r.nodeId, r])); // a node's newest report in the batch wins
    await this.nonces.learn(new Set([...latest.values()].map((r) => r.nonce)));
    const subjects = new Map((await this.repository.subjects([...latest.keys()])).map((s) => [s.nodeId, s]));
    const rows: AttestationRow[] = [];
    const events: NewEvent<'node.attestation-mismatch'>[] = [];
    for (const report of latest.values()) {
      const subject = subjects.get(report.nodeId);
      const verdict = judge(report, subject, (nonce) => this.nonces.isCurrent(nonce));
      this.judged.inc({ result: verdict });
      if (verdict === 'stale-nonce' || verdict === 'no-key') continue;
      rows.push({ nodeId: report.nodeId, verdict, sha256: report.sha256 });
      if (verdict !== 'verified' && subject?.verdict !== verdict) {
        this.logger.warn(
          { nodeId: report.nodeId, verdict, loadedSha256: report.sha256, assignedSha256: subject?.assignedSha256 ?? null, claimedSha256: report.claimedSha256 },
          verdict === 'invalid' ? 'attestation report does not verify with the node key' : 'node attests model bytes other than its assigned release',
        );
      }
      if ((verdict === 'mismatch' || verdict === 'invalid') && subject?.verdict !== verdict) {
        events.push({
          type: 'node.attestation-mismatch',
          subjects: { nodeId: report.nodeId },
          payload: { verdict, loadedSha256: report.sha256, assignedSha256: subject?.assignedSha256 ?? null },
        });
      }
    }
    await this.repository.record(rows, events);
  }
}
