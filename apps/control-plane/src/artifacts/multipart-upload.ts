import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { PayloadTooLargeError, ValidationError } from '#common';
import type { ArtifactStore, IngestedBlob } from './artifact-store.js';

export interface ReceivedUpload {
  readonly fields: Record<string, string>;
  readonly blob: IngestedBlob;
}

/**
 * All text fields together: a self-test input is one of them, and a camera model's (224×224×3 values as
 * JSON) is a few MB. Fields are held in memory, so the bound is on their sum, not per field.
 */
export const MAX_FIELD_BYTES = 16 * 1024 * 1024;
/** Room for the form fields and part headers around the file in a multipart body. */
const MULTIPART_OVERHEAD_BYTES = MAX_FIELD_BYTES + 1024 * 1024;

/**
 * Streams a multipart/form-data upload: text fields are collected, the one file part named `fileField`
 * goes straight into the artifact store (hashed, counted and cut off at `maxBytes`). Fields may come
 * before or after the file.
 */
export function receiveUpload(req: IncomingMessage, store: ArtifactStore, fileField: string, maxBytes: number): Promise<ReceivedUpload> {
  if (!req.headers['content-type']?.toLowerCase().startsWith('multipart/form-data')) {
    return Promise.reject(new ValidationError('expected a multipart/form-data body'));
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes + MULTIPART_OVERHEAD_BYTES) return Promise.reject(new PayloadTooLargeError(maxBytes));
  // The caller may have awaited something (the model lookup) while the client went away: its 'aborted'
  // has fired already, and piping a destroyed request would leave the upload pending for ever.
  if (req.destroyed) return Promise.reject(new ValidationError('the upload was interrupted'));

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      limits: { files: 1, fields: 32, fieldSize: MAX_FIELD_BYTES, fileSize: maxBytes + 1, parts: 40 },
    });
  } catch (error) {
    // busboy throws on a content type it cannot parse (no boundary, unsupported charset).
    return Promise.reject(new ValidationError('malformed multipart/form-data content type (is the boundary missing?)', [], { cause: error }));
  }

  return new Promise<ReceivedUpload>((resolve, reject) => {
    const fields: Record<string, string> = {};
    let ingest: Promise<IngestedBlob> | undefined;
    let fileStream: Readable | undefined;
    let failed = false;
    let fieldBytes = 0;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      // Drain what the client still sends so it can read our answer instead of a reset connection.
      req.unpipe(parser);
      req.resume();
      // A file part still open (the client went away mid-file) would keep the ingest, its temp file and
      // its descriptor waiting for ever; destroying it makes the store remove the file. The parser goes
      // too: it holds the part it was in the middle of and would emit parts nobody wants.
      const reason = error instanceof Error ? error : new Error('upload failed');
      if (fileStream && !fileStream.readableEnded) fileStream.destroy(reason);
      parser.destroy();
      if (ingest) ingest.then((blob) => store.discard(blob), () => undefined);
      reject(error);
    };
    parser.on('file', (name, stream) => {
      // The parser can still emit parts it had buffered when an earlier field failed the upload.
      if (failed) {
        stream.resume();
        return;
      }
      if (name !== fileField || ingest) {
        stream.resume();
        fail(new ValidationError(`unexpected file part '${name}'; send exactly one file named '${fileField}'`));
        return;
      }
      fileStream = stream;
      ingest = store.ingest(stream, maxBytes);
      ingest.catch(fail);
    });
    parser.on('field', (name, value, info) => {
      fieldBytes += Buffer.byteLength(value);
      if (info.valueTruncated || fieldBytes > MAX_FIELD_BYTES) fail(new ValidationError(`field '${name}' is too long (all fields together: at most ${MAX_FIELD_BYTES} bytes)`));
      fields[name] = value;
    });
    parser.on('filesLimit', () => fail(new ValidationError(`send exactly one file named '${fileField}'`)));
    parser.on('fieldsLimit', () => fail(new ValidationError('too many form fields')));
    parser.on('partsLimit', () => fail(new ValidationError('too many form parts')));
    parser.on('error', (error) => fail(new ValidationError('malformed multipart body', [], { cause: error })));
    parser.on('close', () => {
      if (failed) return;
      if (!ingest) return fail(new ValidationError(`missing file part '${fileField}'`));
      ingest.then((blob) => (failed ? store.discard(blob) : resolve({ fields, blob })), fail);
    });
    req.on('error', (error) => fail(new ValidationError('the upload was interrupted', [], { cause: error })));
    req.on('aborted', () => fail(new ValidationError('the upload was interrupted')));
    req.pipe(parser);
  });
}
