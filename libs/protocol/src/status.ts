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

/**
 * States a node reports before the candidate serves (`activated` and after, it does): a shadow approval
 * can still be withdrawn from a node in one of these, since it has not acted on it yet.
 */
export const PRE_ACTIVATION_DEPLOYMENT_STATES: readonly DeploymentState[] = ['received', 'downloading', 'downloaded', 'verified', 'staged', 'self-tested'];

/**
 * Whether a status a node reports may replace a deployment target's state (null: none yet). An outcome
 * is final: nothing moves a target out of a terminal state — not a late or forged `rejected`, not a
 * replay that starts over — except the rollback that follows a failure, which refines `failed` into
 * `rolled-back` (the agent reports both, in that order). The control plane's SQL mirrors this rule.
 */
export function replacesDeploymentState(current: DeploymentState | null, incoming: DeploymentState): boolean {
  if (current === null || !TERMINAL_DEPLOYMENT_STATES.includes(current)) return true;
  return current === 'failed' && incoming === 'rolled-back';
}

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
  'unsupported-encoding', // the manifest's artifact encoding is not one this agent decodes
  'decode-failed', // the signed encoded bytes do not decode (a corrupt or truncated stream)
  'model-load-failed', // the engine could not load the artifact (the engine's message is the detail)
  'malformed', // a signed document that is not what it claims to be
  'self-test-failed',
  'soak-failed',
  'shadow-failed', // the control plane abandoned the candidate: it failed the shadow gate, or the rollout stopped waiting for the node
  'cancelled', // the control plane cancelled the update before activation: its rollout stopped (not a verdict on the model)
  'crash-loop',
  'superseded',
  'internal',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];
