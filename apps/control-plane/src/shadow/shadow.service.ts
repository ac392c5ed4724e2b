import { Injectable, Logger } from '@nestjs/common';
import type { ShadowReportMessage } from '#protocol';
import { ShadowReportsRepository } from './shadow-reports.repository.js';

/** Takes nodes' shadow reports (from the MQTT gateway) and keeps the latest per node and deployment. */
@Injectable()
export class ShadowService {
  private readonly logger = new Logger(ShadowService.name);

  constructor(private readonly reports: ShadowReportsRepository) {}

  async accept(nodeId: string, report: ShadowReportMessage): Promise<void> {
    const kept = await this.reports.record(nodeId, report);
    if (!kept) this.logger.log({ nodeId, deploymentId: report.deploymentId, seq: report.seq }, 'shadow report not kept: an older one, or a deployment that does not target the node');
  }
}
