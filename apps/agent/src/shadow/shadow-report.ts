import { envelopeFields, type ShadowReportMessage } from '#protocol';
import type { ShadowReport } from '../update/shadow-step.js';

/** The wire form of a shadow report (`nodes/{nodeId}/shadow`), field by field; `seq` is node-scoped and increasing. */
export function shadowReportOf(seq: number, r: ShadowReport): ShadowReportMessage {
  return {
    ...envelopeFields(),
    seq,
    deploymentId: r.deploymentId,
    sha256: r.sha256,
    startedAt: r.startedAt.toISOString(),
    samples: r.samples,
    agreed: r.agreed,
    errors: r.errors,
    skipped: r.skipped,
    meanDivergence: r.meanDivergence,
    meanAbsDiff: r.meanAbsDiff,
    activeLatencyMs: r.activeLatencyMs,
    candidateLatencyMs: r.candidateLatencyMs,
  };
}
