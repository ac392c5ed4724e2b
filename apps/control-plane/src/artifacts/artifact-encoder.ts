import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { constants, createGzip } from 'node:zlib';
import type { ArtifactEncodingName } from '#protocol';
import type { ArtifactStore, IngestedBlob } from './artifact-store.js';

/** A staged blob's encoded form, itself staged in the store (committed or discarded with it). */
export interface EncodedBlob {
  readonly name: ArtifactEncodingName;
  readonly blob: IngestedBlob;
}

/**
 * The most an encoded form may take: deflate's stored blocks add 5 bytes per 16 KiB block, gzip 18 bytes
 * of header and trailer. Incompressible input stays within this; nothing else can pass it.
 */
const encodedBound = (size: number) => size + Math.ceil(size / 16_384) * 5 + 1024;

/**
 * Encodes a staged upload into a second staged blob, streamed through the store's ingest (hashed,
 * bounded), never buffered whole. gzip at level 9: encoded once per upload, decoded on every node.
 * Deterministic for one zlib build, so the same upload maps to the same encoded blob.
 */
export async function encodeArtifact(store: ArtifactStore, blob: IngestedBlob, name: ArtifactEncodingName): Promise<EncodedBlob> {
  const local = await store.localFile(blob);
  try {
    const encoder = createGzip({ level: constants.Z_BEST_COMPRESSION });
    // A read error destroys the encoder with it, so the ingest below rejects instead of waiting.
    const feeding = pipeline(createReadStream(local.path), encoder).catch(() => undefined);
    const encoded = await store.ingest(encoder, encodedBound(blob.sizeBytes));
    await feeding;
    return { name, blob: encoded };
  } finally {
    await local.release();
  }
}
