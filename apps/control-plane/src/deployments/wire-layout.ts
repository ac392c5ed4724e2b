import { wireArtifact } from '#protocol';
import { parseManifestEnvelope } from '#trust';
import type { ModelVersion } from '../models/model-version.entity.js';
import type { ArtifactLayout } from './desired-state-message.js';

/**
 * The bytes a deployment of `version` chunks and publishes: the encoded blob when its signed manifest
 * declares an encoding, else the artifact itself. Read from the signed manifest, so the layout in every
 * desired state names exactly the bytes the signature covers.
 */
export function wireLayout(version: ModelVersion, chunkSize: number): ArtifactLayout {
  return { ...wireArtifact(parseManifestEnvelope(version.manifest).signed), chunkSize };
}
