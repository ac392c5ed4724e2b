import { ValidationError } from '#common';
import { canonicalJson, type ModelManifest } from '#trust';

/** What a publisher decides when it signs a release; every other field is the uploaded version's. */
const PUBLISHER_FIELDS = new Set(['sequence', 'created', 'expires']);

/**
 * Refuses a publisher-signed manifest that is not the uploaded version: the bytes, engine, specs,
 * preprocessing, labels and self-test must be exactly what the control plane checked at upload (so a
 * signature cannot smuggle in a manifest the upload check never saw). The publisher sets the sequence
 * (at least 1) and the lifetime.
 */
export function assertSameRelease(uploaded: ModelManifest, signed: ModelManifest): void {
  const keys = new Set([...Object.keys(uploaded), ...Object.keys(signed)].filter((k) => !PUBLISHER_FIELDS.has(k)));
  const differing = [...keys].filter((k) => canonicalJson((uploaded as Record<string, unknown>)[k] ?? null) !== canonicalJson((signed as Record<string, unknown>)[k] ?? null));
  if (differing.length > 0) {
    throw new ValidationError(`the signed manifest is not the uploaded version: ${differing.sort().join(', ')} differ`, differing.map((field) => ({ field: `manifest.signed.${field}`, message: 'differs from the uploaded version' })));
  }
  if (signed.sequence < 1) throw new ValidationError('a released manifest carries a sequence of at least 1', [{ field: 'manifest.signed.sequence', message: 'at least 1' }]);
}
