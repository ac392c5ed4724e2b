import { ProtocolError } from './errors.js';
import { MAX_CHUNK_BYTES } from './messages.js';

/**
 * Artifact chunk payload: a 12-byte header, then the bytes.
 *   0..3  magic "EFC1"
 *   4..7  chunk index (uint32 BE)
 *   8..11 chunk count of the artifact (uint32 BE)
 * The artifact's sha256 (in the topic and the signed manifest) covers the content; the header lets a
 * node place a chunk without trusting the topic alone.
 */
const MAGIC = Buffer.from('EFC1');
export const CHUNK_HEADER_BYTES = 12;

export interface ArtifactChunk {
  readonly index: number;
  readonly count: number;
  readonly data: Buffer;
}

export function encodeChunk(chunk: ArtifactChunk): Buffer {
  const header = Buffer.alloc(CHUNK_HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(chunk.index, 4);
  header.writeUInt32BE(chunk.count, 8);
  return Buffer.concat([header, chunk.data]);
}

export function decodeChunk(payload: Buffer): ArtifactChunk {
  if (payload.length < CHUNK_HEADER_BYTES || !payload.subarray(0, 4).equals(MAGIC)) {
    throw new ProtocolError('bad-chunk', 'not an EdgeFleet artifact chunk');
  }
  const index = payload.readUInt32BE(4);
  const count = payload.readUInt32BE(8);
  const data = payload.subarray(CHUNK_HEADER_BYTES);
  if (index >= count) throw new ProtocolError('bad-chunk', `chunk index ${index} is not below the count ${count}`);
  if (data.length > MAX_CHUNK_BYTES) throw new ProtocolError('bad-chunk', `chunk of ${data.length} bytes exceeds ${MAX_CHUNK_BYTES}`);
  return { index, count, data };
}

/** How many chunks an artifact of `size` bytes takes. */
export const chunkCount = (size: number, chunkSize: number): number => Math.ceil(size / chunkSize);

/** Turns a set of missing indices into inclusive ranges, the shape repair requests carry. */
export function toRanges(indices: Iterable<number>): [number, number][] {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const i of sorted) {
    const last = ranges.at(-1);
    if (last && last[1] === i - 1) last[1] = i;
    else ranges.push([i, i]);
  }
  return ranges;
}
