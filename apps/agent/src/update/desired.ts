import type { DesiredStateMessage } from '#protocol';
import { assertNotExpired, canonicalJson, type DesiredState, type ModelManifest, type RootDocument, TrustError, verifyDesiredState, verifyManifest } from '#trust';

export interface VerifiedDesired {
  readonly message: DesiredStateMessage;
  readonly state: DesiredState;
  readonly manifest: ModelManifest;
}

/**
 * Verifies a desired-state message against the pinned root: signed by the release threshold, for this
 * node, not expired, carrying a manifest signed by the release threshold whose sequence is above what
 * this node committed for the model, and whose artifact layout matches the manifest. The root itself
 * must not have expired (an expired root vouches for nothing new: indefinite freeze).
 */
export function verifyDesired(message: DesiredStateMessage, root: RootDocument, nodeId: string, installed: Readonly<Record<string, number>>): VerifiedDesired {
  const now = new Date();
  assertNotExpired(root.expires, now, `trusted root version ${root.version}`);
  const state = verifyDesiredState(message.desired, root, { nodeId, now });
  const installedSequence = installed[state.manifest.signed.name];
  const manifest = verifyManifest(state.manifest, root, { now, installedSequence });
  if (message.artifact.sha256 !== manifest.sha256 || message.artifact.size !== manifest.size) {
    throw new TrustError('hash-mismatch', 'the artifact layout does not name the signed artifact');
  }
  return { message, state, manifest };
}

/** What identifies a desired state for the anti-rollback exemption: its deployment and its signed manifest. */
export interface DesiredIdentity {
  readonly deploymentId: string;
  readonly manifest: unknown;
}

/**
 * Whether an incoming desired state is the one recorded (the retained message coming again after a
 * reconnect or restart): same deployment and the same signed manifest. Only that one is exempt from
 * the sequence check; an older deployment carrying the same manifest is not (it could replay an
 * earlier rollout), nor is another manifest for the same deployment.
 */
export function isRecordedDesiredState(recorded: DesiredIdentity | undefined, incoming: DesiredIdentity): boolean {
  if (!recorded || recorded.deploymentId !== incoming.deploymentId) return false;
  return canonicalJson(recorded.manifest) === canonicalJson(incoming.manifest);
}

/** The signed manifest fields that say which model, bytes and release a node serves. */
export interface ManifestIdentity {
  readonly name: string;
  readonly version: string;
  readonly variant: string;
  readonly sha256: string;
  readonly sequence: number;
}

/**
 * Whether an incoming manifest is the release this node serves and committed (same model, version,
 * variant, bytes and sequence): a deployment that asks for what already runs, e.g. a second deployment
 * of the same version. Applying it changes nothing, so it cannot roll anything back; it is only
 * reported committed. Any other manifest must carry a sequence above the installed one.
 */
export function asksForServingRelease(
  serving: Omit<ManifestIdentity, 'sequence'> | undefined,
  installed: Readonly<Record<string, number>>,
  incoming: ManifestIdentity,
): boolean {
  if (!serving || installed[incoming.name] !== incoming.sequence) return false;
  return serving.name === incoming.name && serving.version === incoming.version && serving.variant === incoming.variant && serving.sha256 === incoming.sha256;
}
