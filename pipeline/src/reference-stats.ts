import { writeFile } from 'node:fs/promises';
import { computeReferenceStats, type ReferenceStats } from '#protocol';

/** Held-out images the statistics are computed on: 2,000 × 784 values sort in well under a second. */
export const REFERENCE_IMAGES = 2000;
const BINS = 20;

/**
 * Reference statistics of an export for drift (docs/drift.md): the raw test images as clients send them
 * (bytes 0–255, before the manifest's preprocessing) and the export's own top-class confidence on each.
 */
export function exportReferenceStats(rawImages: Uint8Array, pixels: number, outputs: Float32Array, classes: number, images = REFERENCE_IMAGES): ReferenceStats {
  const count = Math.min(images, Math.floor(rawImages.length / pixels), Math.floor(outputs.length / classes));
  const inputs = Array.from({ length: count }, (_, i) => rawImages.subarray(i * pixels, (i + 1) * pixels));
  const confidences = Float64Array.from({ length: count }, (_, i) => Math.max(...outputs.subarray(i * classes, (i + 1) * classes)));
  return computeReferenceStats(inputs, confidences, BINS);
}

/** Writes them next to the artifact (`<artifact>.reference-stats.json`), for `models push --reference-stats`. */
export async function writeReferenceStats(artifactPath: string, stats: ReferenceStats): Promise<string> {
  const path = `${artifactPath}.reference-stats.json`;
  await writeFile(path, JSON.stringify(stats));
  return path;
}
