import type { DesiredStateBody } from '#protocol';
import { assertNotExpired, type Envelope, signEnvelope, verifyThreshold } from './envelope.js';
import type { SigningKey } from './keys.js';
import { desiredStateRole, type RootDocument } from './root.js';
import { TrustError } from './trust-error.js';

/**
 * The command to one node: run this manifest for this deployment, until it expires. Naming the node
 * and expiring stops a valid command from being replayed to another node or later. Schema in libs/protocol;
 * `activationWindow`: the node may download, verify, stage and self-test at any time, but activates only
 * while the window is open (opens at each cron time in `timezone`, for `durationMinutes`).
 */
export type DesiredState = DesiredStateBody;

/** Signed by the director keys (or, in a root without a director role, the release keys). */
export const signDesiredState = (state: DesiredState, keys: readonly SigningKey[]): Envelope<DesiredState> => signEnvelope(state, keys);

/**
 * Only the signatures (release threshold, unrevoked keys): nothing in a document that fails here may be
 * believed, not even the deployment it names. A caller that needs the other checks in between (the
 * agent's freshness rule) runs this, then `verifyDesiredState`.
 */
export function verifyDesiredSignature(envelope: Envelope<DesiredState>, root: RootDocument): DesiredState {
  const state = envelope.signed;
  if (state.type !== 'desired-state' || typeof state.nodeId !== 'string') throw new TrustError('malformed', 'not a desired state');
  verifyThreshold(envelope, desiredStateRole(root), root.keys, root.revokedKeyIds);
  return state;
}

export function verifyDesiredState(envelope: Envelope<DesiredState>, root: RootDocument, check: DesiredStateCheck): DesiredState {
  return checkDesiredState(verifyDesiredSignature(envelope, root), check);
}

export interface DesiredStateCheck {
  readonly nodeId: string;
  readonly now: Date;
}

/** The checks after the signatures: meant for this node, not expired. */
export function checkDesiredState(state: DesiredState, check: DesiredStateCheck): DesiredState {
  if (state.nodeId !== check.nodeId) throw new TrustError('wrong-target', `desired state is for node ${state.nodeId}`);
  assertNotExpired(state.expires, check.now, 'desired state');
  return state;
}
