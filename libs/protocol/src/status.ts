/**
 * The closed set of deployment states a node reports (hawkBit-style). Terminal: committed, failed,
 * rolled-back, rejected.
 */
export const DEPLOYMENT_STATES = [
  'received',
  'downloading',
  'downloaded',
  'verified',
  'staged',
  'self-tested',
  'activated',
  'committed',
  'failed',
  'rolled-back',
  'rejected',
] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];

export const TERMINAL_DEPLOYMENT_STATES: readonly DeploymentState[] = ['committed', 'failed', 'rolled-back', 'rejected'];

/** Why a node refused or abandoned a deployment: machine-readable, one per check. */
export const FAILURE_REASONS = [
  'bad-signature',
  'threshold',
  'revoked-key',
  'expired',
  'wrong-target',
  'rollback',
  'hash-mismatch',
  'size-exceeded',
  'size-mismatch',
  'stalled',
  'insufficient-disk',
  'unsupported-engine',
  'model-load-failed', // the engine could not load the artifact (the engine's message is the detail)
  'malformed', // a signed document that is not what it claims to be
  'self-test-failed',
  'soak-failed',
  'crash-loop',
  'superseded',
  'internal',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];
