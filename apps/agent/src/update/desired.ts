import type { DesiredStateMessage } from '#protocol';
import { type DesiredState, type Envelope, type ModelManifest, type RootDocument, TrustError, verifyDesiredState, verifyManifest } from '#trust';

export interface VerifiedDesired {
  readonly message: DesiredStateMessage;
  readonly state: DesiredState;
  readonly manifest: ModelManifest;
}

/**
 * Verifies a desired-state message against the pinned root: signed by the release threshold, for this
 * node, not expired, carrying a manifest signed by the release threshold whose sequence is above what
 * this node committed for the model, and whose artifact layout matches the manifest.
 */
export function verifyDesired(message: DesiredStateMessage, root: RootDocument, nodeId: string, installed: Readonly<Record<string, number>>): VerifiedDesired {
  const now = new Date();
  const state = verifyDesiredState(message.desired as unknown as Envelope<DesiredState>, root, { nodeId, now });
  const name = (state.manifest.signed as { name?: unknown }).name;
  const installedSequence = typeof name === 'string' ? installed[name] : undefined;
  const manifest = verifyManifest(state.manifest, root, { now, installedSequence });
  if (message.artifact.sha256 !== manifest.sha256 || message.artifact.size !== manifest.size) {
    throw new TrustError('hash-mismatch', 'the artifact layout does not name the signed artifact');
  }
  return { message, state, manifest };
}
