import { Logger } from '@nestjs/common';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError } from '#common';
import { type ArtifactRangeReader, ArtifactStore, ArtifactStoreUnavailableError, assertDigest, type ByteRange, type IngestedBlob, type LocalBlobFile } from './artifact-store.js';
import type { BlockCache } from './block-cache.js';
import { DigestMeter, prepareWhileGuarded } from './metered-ingest.js';

export interface S3StoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Empty, or ending in `/`. */
  readonly prefix: string;
  /** Multipart part size; lib-storage holds about `queueSize` (2) parts in memory per upload. */
  readonly partSizeBytes: number;
  readonly cache: BlockCache;
  /** Local staging for the upload check's copy (`<dir>/tmp`). */
  readonly localDir: string;
}

/** Parts uploaded at once per upload: memory per upload is about this many parts. */
const UPLOAD_QUEUE_SIZE = 2;

/**
 * The `s3` driver: any S3-compatible store (AWS S3, MinIO, Cloudflare R2). Objects at
 * `<prefix>sha256/<2 hex>/<64 hex>`; uploads stream into `<prefix>tmp/<uuid>` by multipart upload while
 * hashed, then are copied to their digest's key (the key is known only once the last byte is hashed).
 * A failed or cut upload aborts its multipart upload, so no parts are kept. Chunk reads go through a
 * bounded block cache of ranged GETs.
 */
export class S3ArtifactStore extends ArtifactStore {
  private readonly logger = new Logger(S3ArtifactStore.name);

  constructor(private readonly options: S3StoreOptions) {
    super();
  }

  override async close(): Promise<void> {
    this.options.client.destroy();
  }

  keyFor(sha256: string): string {
    assertDigest(sha256);
    return `${this.options.prefix}sha256/${sha256.slice(0, 2)}/${sha256}`;
  }

  async verifyReachable(): Promise<void> {
    const { client, bucket } = this.options;
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (error) {
      throw new ArtifactStoreUnavailableError(`artifact store: bucket '${bucket}' is not reachable (does it exist, in this region, and may these credentials use it?)`, { cause: error });
    }
  }

  async ingest(source: Readable, maxBytes: number): Promise<IngestedBlob> {
    const { client, bucket, prefix, partSizeBytes } = this.options;
    const staging = `${prefix}tmp/${randomUUID()}`;
    const body = new PassThrough();
    const upload = await prepareWhileGuarded(source, async () =>
      new Upload({ client, params: { Bucket: bucket, Key: staging, Body: body, ContentType: 'application/octet-stream' }, partSize: partSizeBytes, queueSize: UPLOAD_QUEUE_SIZE, leavePartsOnError: false }),
    );
    const meter = new DigestMeter(maxBytes);
    // Whose fault: an error of the source or the meter (a cut upload, PayloadTooLargeError) while `body`
    // still stands is the input's; once lib-storage has torn `body` down (S3 refused), the pipeline's
    // errors are only the echo of the store's. Listening before `pipeline` puts these listeners first;
    // they stay, so that a late error of the source has a listener.
    let inputError: unknown;
    const fromInput = (error: unknown) => {
      if (!body.destroyed) inputError ??= error;
    };
    source.on('error', fromInput);
    meter.on('error', fromInput);
    // An S3 failure stops the upload reading `body`: the pipeline would wait for ever unless told.
    const uploaded = upload.done().catch((error: unknown) => {
      body.destroy(error instanceof Error ? error : new Error('upload failed'));
      throw error;
    });
    const [piped, stored] = await Promise.allSettled([pipeline(source, meter, body), uploaded]);
    if (inputError !== undefined) {
      // lib-storage has aborted the multipart upload by the time `uploaded` settles.
      if (stored.status === 'fulfilled') await this.deleteKey(staging);
      else if (stored.reason !== inputError) this.logger.warn({ err: stored.reason, staging }, 'a failed upload also failed to abort; its parts stay until the bucket lifecycle rule removes them');
      throw inputError;
    }
    if (stored.status === 'rejected') throw new ArtifactStoreUnavailableError(`artifact store: upload to bucket '${bucket}' failed`, { cause: stored.reason });
    if (piped.status === 'rejected') {
      await this.deleteKey(staging);
      throw piped.reason;
    }
    return { sha256: meter.digest(), sizeBytes: meter.sizeBytes, staging };
  }

  async commit(blob: IngestedBlob): Promise<void> {
    if (!(await this.exists(blob.sha256))) {
      const { bucket } = this.options;
      const Key = this.keyFor(blob.sha256);
      const copy = new CopyObjectCommand({ Bucket: bucket, Key, CopySource: `${bucket}/${blob.staging}`, ContentType: 'application/octet-stream', MetadataDirective: 'REPLACE' });
      await this.send(() => this.options.client.send(copy), `copying ${blob.staging} to ${Key}`);
    }
    await this.discard(blob);
  }

  async discard(blob: IngestedBlob): Promise<void> {
    await this.deleteKey(blob.staging);
  }

  /** Downloads the staged object to a local temp file, at most its recorded size. */
  async localFile(blob: IngestedBlob): Promise<LocalBlobFile> {
    const dir = join(this.options.localDir, 'tmp');
    await mkdir(dir, { recursive: true });
    const path = join(dir, randomUUID());
    const release = () => rm(path, { force: true });
    try {
      const object = await this.getObject(blob.staging);
      await pipeline(object, new DigestMeter(blob.sizeBytes), createWriteStream(path, { flags: 'wx' }));
    } catch (error) {
      await release();
      throw error;
    }
    return { path, release };
  }

  async stat(sha256: string): Promise<{ sizeBytes: number } | undefined> {
    const head = new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.keyFor(sha256) });
    try {
      const found = await this.send(() => this.options.client.send(head), this.keyFor(sha256));
      return { sizeBytes: found.ContentLength ?? 0 };
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async openRanges(sha256: string): Promise<ArtifactRangeReader> {
    const found = await this.stat(sha256);
    if (!found) throw new NotFoundError('artifact', sha256);
    const key = this.keyFor(sha256);
    const fetchBlock = async (start: number, end: number) => {
      const block = await readAll(await this.getObject(key, { start, end: end - 1 }));
      if (block.length !== end - start) throw new ArtifactStoreUnavailableError(`artifact store: ${key} gave ${block.length} bytes for range ${start}-${end - 1}`);
      return block;
    };
    return {
      read: (offset, length) => this.options.cache.read(sha256, found.sizeBytes, offset, length, fetchBlock),
      close: async () => undefined,
    };
  }

  createReadStream(sha256: string, range?: ByteRange): Promise<Readable> {
    return this.getObject(this.keyFor(sha256), range);
  }

  async delete(sha256: string): Promise<void> {
    await this.deleteKey(this.keyFor(sha256));
  }

  private async getObject(key: string, range?: ByteRange): Promise<Readable> {
    const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
    const get = new GetObjectCommand({ Bucket: this.options.bucket, Key: key, Range });
    const object = await this.send(() => this.options.client.send(get), `reading ${key}`);
    // In Node the SDK's body is an IncomingMessage (a Readable with the SDK's helpers mixed in).
    return object.Body as Readable;
  }

  private async deleteKey(key: string): Promise<void> {
    const command = new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key });
    await this.send(() => this.options.client.send(command), `deleting ${key}`);
  }

  /** One S3 request: not found stays NotFoundError, any other failure is an ArtifactStoreUnavailableError (503) with the SDK's error as cause. */
  private async send<O>(request: () => Promise<O>, what: string): Promise<O> {
    try {
      return await request();
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError('artifact object', what, { cause: error });
      throw new ArtifactStoreUnavailableError(`artifact store: ${what} failed (bucket '${this.options.bucket}')`, { cause: error });
    }
  }
}

function isNotFound(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 404 || (error as { name?: string }).name === 'NotFound' || (error as { name?: string }).name === 'NoSuchKey';
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}
