import { z } from 'zod';

/**
 * A content encoding of the artifact on the wire (docs/protocol.md#artifact-encoding). The manifest's
 * `sha256`/`size` describe the decoded model, what a slot holds and an engine loads; `encoding` describes
 * the bytes that are chunked, repaired and downloaded. Both are signed: a node checks the transferred
 * bytes before it decodes anything, and the decoded bytes before it stages them.
 */
export const ARTIFACT_ENCODINGS = ['gzip'] as const;
export type ArtifactEncodingName = (typeof ARTIFACT_ENCODINGS)[number];

export const artifactEncodingSchema = z.looseObject({
  /** A bounded string, not an enum: a node meeting a name it cannot decode fails the update (`unsupported-encoding`) instead of refusing the whole message unread. */
  name: z.string().min(1).max(32),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256'),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});
export type ArtifactEncoding = z.infer<typeof artifactEncodingSchema>;

export const isKnownEncoding = (name: string): name is ArtifactEncodingName => (ARTIFACT_ENCODINGS as readonly string[]).includes(name);

/** The bytes that travel: the encoded form when the manifest declares one, else the model itself. */
export function wireArtifact(manifest: { readonly sha256: string; readonly size: number; readonly encoding?: ArtifactEncoding }): { sha256: string; size: number } {
  return manifest.encoding ? { sha256: manifest.encoding.sha256, size: manifest.encoding.size } : { sha256: manifest.sha256, size: manifest.size };
}
