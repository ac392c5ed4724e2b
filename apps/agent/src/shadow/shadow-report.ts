import { envelopeFields, type ShadowReportMessage } from '#protocol';
import type { ShadowReport } from '../update/shadow-step.js';

/** The wire form of a shadow report (`nodes/{nodeId}/shadow`); `seq` is node-scoped and increasing. */
export function shadowReportOf(seq: number, report: ShadowReport): ShadowReportMessage {
  const { deploymentId, sha256, startedAt, ...figures } = report;
  return { ...envelopeFields(), seq, deploymentId, sha256, startedAt: startedAt.toISOString(), ...figures };
}
