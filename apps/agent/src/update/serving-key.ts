import { createHash } from 'node:crypto';
import { canonicalJson, type ModelManifest } from '#trust';

/**
 * What a model serves as, beyond its bytes: the artifact digest plus a digest of the manifest fields
 * that change how those bytes are loaded, fed and read (engine, format, input and output specs,
 * preprocessing, labels). Version, sequence, dates and the self-test do not. Bytes that passed a soak
 * are known good only together with these fields: the same bytes with other preprocessing soak again.
 */
export function servingKey(manifest: ModelManifest): string {
  const { engine, format, inputSpec, outputSpec, preprocessing, labels } = manifest;
  const digest = createHash('sha256').update(canonicalJson({ engine, format, inputSpec, outputSpec, preprocessing, labels })).digest('hex');
  return `${manifest.sha256}:${digest}`;
}
