import { Readable } from 'node:stream';
import { UnavailableError } from '#common';

/**
 * A blob written to the store's staging area, hashed and sized, not yet addressable by its digest.
 * `staging` is the driver's own handle (a temp file path, an object key); callers only pass it back.
 */
export interface IngestedBlob {
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly staging: string;
}

/** A local file with the blob's bytes (the upload check loads it with its engine); `release` removes any copy made for it. */
export interface LocalBlobFile {
  readonly path: string;
  release(): Promise<void>;
}

/** Random access into one stored artifact (chunk broadcast and repair): `read` gives exactly `length` bytes at `offset`. */
export interface ArtifactRangeReader {
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Inclusive byte range, as in HTTP Range. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** The store could not be reached or refused a request (an S3 outage, a full disk): a 503, the cause kept. */
export class ArtifactStoreUnavailableError extends UnavailableError {}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Throws unless `sha256` is a lowercase hex digest: keys and paths are built from it. */
export function assertDigest(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
}

/**
 * Content-addressed artifact blobs, behind one interface with two drivers: `fs` (one replica's disk)
 * and `s3` (any S3-compatible object store, shared by replicas). Uploads stream into a staging area while
 * being hashed and counted (nothing buffered whole, an oversized upload cut off at the limit); `commit`
 * makes the blob addressable by its digest, storing identical content once. An abstract class rather than
 * an interface so that Nest can inject it by this name.
 */
export abstract class ArtifactStore {
  /** Fails with a clear error when the store cannot be used (boot calls it once). */
  abstract verifyReachable(): Promise<void>;

  /** Streams `source` into staging, computing its SHA-256 on the way; rejects past `maxBytes` and leaves nothing behind on any failure. */
  abstract ingest(source: Readable, maxBytes: number): Promise<IngestedBlob>;

  /** Makes the blob addressable by its digest. Identical content is stored once. */
  abstract commit(blob: IngestedBlob): Promise<void>;

  /** Drops a staged blob that will not be committed. */
  abstract discard(blob: IngestedBlob): Promise<void>;

  /** A local file of a staged blob, for checks that need a path. */
  abstract localFile(blob: IngestedBlob): Promise<LocalBlobFile>;

  /** The stored artifact's size, or undefined when there is none. */
  abstract stat(sha256: string): Promise<{ sizeBytes: number } | undefined>;

  abstract openRanges(sha256: string): Promise<ArtifactRangeReader>;

  /** The artifact's bytes, or the inclusive `range` of them (HTTP downloads). */
  abstract createReadStream(sha256: string, range?: ByteRange): Promise<Readable>;

  abstract delete(sha256: string): Promise<void>;

  /** Releases connections (the S3 client's sockets); Nest calls it at shutdown. */
  async close(): Promise<void> {}

  onModuleDestroy(): Promise<void> {
    return this.close();
  }

  async exists(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== undefined;
  }

  /** Stores bytes already in memory (tests, tools): ingest and commit in one. */
  async put(bytes: Buffer): Promise<{ sha256: string; sizeBytes: number }> {
    const blob = await this.ingest(Readable.from([bytes]), bytes.length);
    await this.commit(blob);
    return { sha256: blob.sha256, sizeBytes: blob.sizeBytes };
  }
}
