import { type ModelManifestBody, manifestEnvelopeSchema } from '#protocol';
import { assertNotExpired, type Envelope, signEnvelope, verifyThreshold } from './envelope.js';
import type { SigningKey } from './keys.js';
import type { RootDocument } from './root.js';
import { TrustError } from './trust-error.js';

/** What a release key vouches for: one model artifact, how to run it and how to check it runs (schema in libs/protocol). */
export type ModelManifest = ModelManifestBody;

export const signManifest = (manifest: ModelManifest, releaseKeys: readonly SigningKey[]): Envelope<ModelManifest> =>
  signEnvelope(manifest, releaseKeys);

export interface ManifestCheck {
  readonly now: Date;
  /** Sequence of the model installed on the node, if any. */
  readonly installedSequence?: number;
}

/**
 * Verifies a manifest against the pinned root: release threshold met by unrevoked keys, not expired,
 * and strictly newer than what is installed.
 */
export function verifyManifest(envelope: Envelope<ModelManifest>, root: RootDocument, check: ManifestCheck): ModelManifest {
  const m = envelope.signed;
  if (m.type !== 'model-manifest' || !/^[0-9a-f]{64}$/.test(m.sha256) || !Number.isSafeInteger(m.size) || m.size < 0 || !Number.isSafeInteger(m.sequence)) {
    throw new TrustError('malformed', 'not a model manifest');
  }
  verifyThreshold(envelope, root.roles.release, root.keys, root.revokedKeyIds);
  assertNotExpired(m.expires, check.now, 'manifest');
  if (check.installedSequence !== undefined && m.sequence <= check.installedSequence) {
    throw new TrustError('rollback', `sequence ${m.sequence} is not above the installed ${check.installedSequence}`);
  }
  return m;
}

/**
 * Reads a stored manifest envelope (a slot's content record, a database row) into its typed shape, or
 * refuses it as malformed. Parsing keeps every signed key, so the signatures still verify afterwards.
 */
export function parseManifestEnvelope(value: unknown): Envelope<ModelManifest> {
  const parsed = manifestEnvelopeSchema.safeParse(value);
  if (!parsed.success) throw new TrustError('malformed', `not a signed model manifest: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, { cause: parsed.error });
  return parsed.data;
}
