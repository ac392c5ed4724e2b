import { type DesiredStateMessage, wireArtifact } from '#protocol';
import { assertNotExpired, canonicalJson, checkDesiredState, type DesiredState, type ModelManifest, type RootDocument, TrustError, verifyDesiredSignature, verifyManifest } from '#trust';

export interface VerifiedDesired {
  readonly message: DesiredStateMessage;
  readonly state: DesiredState;
  readonly manifest: ModelManifest;
  /** When the control plane signed it (ms since the epoch): what the freshness floor compares. */
  readonly issuedAt: number;
}

/** The signed manifest fields that say which model, bytes and release a node serves. */
export interface ManifestIdentity {
  readonly name: string;
  readonly version: string;
  readonly variant: string;
  readonly sha256: string;
  readonly sequence: number;
}

/** What this node has accepted so far: the floor an incoming desired state must clear. */
export interface DesiredFloor {
  /** The signed desired state in the update record (its retained copy comes again after reconnects). */
  readonly recorded?: DesiredStateMessage['desired'];
  /** The newest `issued` (ms) of any desired state this node accepted; never lowered. */
  readonly newestIssued?: number;
  /** Highest committed manifest sequence per model; never lowered. */
  readonly installed: Readonly<Record<string, number>>;
  /** The release that serves now, if any. */
  readonly serving?: Omit<ManifestIdentity, 'sequence'>;
}

/**
 * How a refused desired state is answered. `unverified`: its signatures do not verify, so nothing in it
 * (the deployment it names included) may be believed — logged, never reported against a deployment.
 * `stale`: genuine but older than a desired state already accepted (a replay) — logged only, or a replayed
 * copy could mark the deployment in progress `rejected`. `known-deployment`: genuine, newer, but unusable
 * (e.g. expired in transit) and for the deployment the node already recorded — logged only: the node's
 * own statuses tell that deployment's outcome. `expired`: genuine but past its lifetime, whichever
 * deployment it names — logged only: the control plane re-signs desired states before they expire, so a
 * node that was away longer gets a fresh copy next (the retained message is replaced); reporting it would
 * end a deployment `rejected` that the node is about to apply. `other-node`: genuine but another node's —
 * logged only: whoever delivered it (the broker admin, an on-path attacker) must not be able to end this
 * node's target of that deployment `rejected` before the node's own document arrives. `refused`: genuine,
 * current, for this node, another deployment, unusable (a lower sequence, a bad manifest) — reported
 * `rejected` for its deployment.
 */
export type RefusalKind = 'unverified' | 'stale' | 'known-deployment' | 'expired' | 'other-node' | 'refused';

export class DesiredStateRefused extends Error {
  /** Whether the node reports it (`rejected`) against the deployment it names. */
  readonly reportable: boolean;

  constructor(
    readonly kind: RefusalKind,
    /** The deployment it names, only once its signatures verified. */
    readonly deploymentId: string | undefined,
    override readonly cause: TrustError,
  ) {
    super(cause.message, { cause });
    this.name = 'DesiredStateRefused';
    this.reportable = kind === 'refused' && deploymentId !== undefined;
  }
}

/**
 * Verifies a desired-state message against the newest verified root and this node's floor, in this order:
 * signed by the release threshold, or the director's (else `unverified`); the root not expired (an expired
 * root vouches for nothing new: indefinite freeze); not older than the newest desired state accepted,
 * unless it is the recorded document itself (else `stale`); for this node, not expired, carrying a
 * manifest signed by the release threshold whose sequence is above what this node committed for the
 * model (see sequenceExempt), and whose artifact layout matches the manifest (else `refused`, or
 * `known-deployment` for a copy of the recorded deployment).
 */
export function verifyDesired(message: DesiredStateMessage, root: RootDocument, nodeId: string, floor: DesiredFloor, now = new Date()): VerifiedDesired {
  let state: DesiredState;
  try {
    state = verifyDesiredSignature(message.desired, root);
  } catch (error) {
    throw new DesiredStateRefused('unverified', undefined, asTrustError(error));
  }
  const recorded = isRecordedDocument(floor.recorded, message.desired);
  try {
    assertNotExpired(root.expires, now, `trusted root version ${root.version}`);
    const issuedAt = issuedTime(state);
    if (!recorded && isStale(floor.newestIssued, issuedAt)) {
      const stale = new TrustError('rollback', `issued ${state.issued}, before the newest desired state this node accepted (${new Date(floor.newestIssued ?? 0).toISOString()})`);
      throw new DesiredStateRefused('stale', state.deploymentId, stale);
    }
    checkDesiredState(state, { nodeId, now });
    const exempt = sequenceExempt(recorded, floor, state.manifest.signed);
    const manifest = verifyManifest(state.manifest, root, { now, installedSequence: exempt ? undefined : floor.installed[state.manifest.signed.name] });
    // The layout names the bytes that travel: the signed encoding's when there is one.
    const wire = wireArtifact(manifest);
    if (message.artifact.sha256 !== wire.sha256 || message.artifact.size !== wire.size) {
      throw new TrustError('hash-mismatch', 'the artifact layout does not name the signed artifact');
    }
    return { message, state, manifest, issuedAt };
  } catch (error) {
    if (error instanceof DesiredStateRefused) throw error;
    const cause = asTrustError(error);
    const known = floor.recorded?.signed.deploymentId === state.deploymentId;
    throw new DesiredStateRefused(refusalKind(known, cause), state.deploymentId, cause);
  }
}

/** Which refusals of a genuine document stay unreported (see RefusalKind). */
function refusalKind(knownDeployment: boolean, cause: TrustError): RefusalKind {
  if (knownDeployment) return 'known-deployment';
  if (cause.reason === 'expired') return 'expired';
  if (cause.reason === 'wrong-target') return 'other-node';
  return 'refused';
}

/**
 * Whether an incoming signed desired state is byte for byte the one in the update record (the retained
 * message coming again after a reconnect or restart): only that one may skip the freshness floor and
 * the sequence check. A re-signed copy of the same deployment (new `issued`, new signatures) is not it.
 */
export function isRecordedDocument(recorded: DesiredStateMessage['desired'] | undefined, incoming: DesiredStateMessage['desired']): boolean {
  return recorded !== undefined && canonicalJson(recorded) === canonicalJson(incoming);
}

/**
 * The per-node freshness floor: the control plane signs every desired state for a node later than the
 * one before (a new deployment, or the same one re-signed before it expires), so one issued before the
 * newest accepted can only be a replay. Equal is allowed (one signing instant, one document).
 */
export function isStale(newestIssued: number | undefined, issuedAt: number): boolean {
  return newestIssued !== undefined && issuedAt < newestIssued;
}

/**
 * Which documents skip the sequence check: the recorded document itself (its manifest is the one being
 * applied or already committed), and a manifest for exactly the release that serves and is committed
 * (asking for it changes nothing). Every other manifest must carry a sequence above the installed one.
 */
export function sequenceExempt(recorded: boolean, floor: DesiredFloor, incoming: ManifestIdentity): boolean {
  return recorded || asksForServingRelease(floor.serving, floor.installed, incoming);
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

/** The desired state's `issued` time; a signed document without a readable one is malformed. */
export function issuedTime(state: Pick<DesiredState, 'issued'>): number {
  const at = Date.parse(state.issued);
  if (!Number.isFinite(at)) throw new TrustError('malformed', `issued ${JSON.stringify(state.issued)} is not a time`);
  return at;
}

function asTrustError(error: unknown): TrustError {
  if (error instanceof TrustError) return error;
  return new TrustError('malformed', error instanceof Error ? error.message : 'unreadable desired state', { cause: error });
}
