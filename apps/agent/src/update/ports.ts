import type { DeploymentState, FailureReason, ReferenceStats, ResultsPolicy } from '#protocol';
import type { ShadowTap } from '../shadow/shadow-evaluator.js';
import type { ShadowReport } from './shadow-step.js';

export type LogFn = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface StatusExtra {
  readonly reason?: FailureReason;
  readonly detail?: string;
  readonly progress?: number;
}

/** What the updater needs from the rest of the agent: the uplink and the log. */
export interface UpdaterPorts {
  /** Publishes a deployment status. */
  report(deploymentId: string, seq: number, state: DeploymentState, extra?: StatusExtra): Promise<void>;
  /** Asks the control plane for missing chunks. */
  requestChunks(sha256: string, missing: [number, number][]): Promise<void>;
  /** A desired state verified (from the broker or the update record): its release's results policy. */
  adoptResultsPolicy?(model: { name: string; version: string; variant: string; sha256: string }, policy: ResultsPolicy | undefined): void;
  /** The same verified desired state: its manifest's reference statistics for drift (absent: none). */
  adoptReferenceStats?(model: { name: string; version: string; variant: string; sha256: string }, stats: ReferenceStats | undefined): void;
  /** Shadow evaluation: where served requests meet the candidate, and the uplink of its figures. */
  shadow: { readonly tap: ShadowTap; report(report: ShadowReport): Promise<void> };
  log: LogFn;
}
