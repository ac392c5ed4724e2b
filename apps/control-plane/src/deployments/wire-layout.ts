import { modelManifestSchema, wireArtifact } from '#protocol';
import type { ModelVersion } from '../models/model-version.entity.js';
import type { ArtifactLayout } from './desired-state-message.js';

/**
 * The bytes a deployment of `version` chunks and publishes: the encoded blob when its manifest declares
 * an encoding, else the artifact itself. Read from the stored manifest's body (signed, or awaiting its
 * publishers' signatures for a rollout plan), so every desired state's layout names exactly the bytes
 * the signature covers.
 */
export function wireLayout(version: ModelVersion, chunkSize: number): ArtifactLayout {
  const manifest = modelManifestSchema.parse((version.manifest as { signed?: unknown }).signed);
  return { ...wireArtifact(manifest), chunkSize };
}
