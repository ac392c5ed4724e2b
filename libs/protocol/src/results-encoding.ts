import { fitsReal, PG_REAL_MAX } from './bounds.js';
import { envelopeFields } from './codec.js';
import { EncodedRecords } from './encoded-records.js';
import { IsoTimeFormatter, MAX_WIRE_TIME_MS, MIN_WIRE_TIME_MS } from './iso-time.js';
import { MAX_PAYLOAD_BYTES, MAX_RESULTS_PER_BATCH } from './messages.js';

/**
 * The results message, encoded once by typed builders instead of zod-parsed per batch: the agent
 * publishes one of these for every few hundred inferences, and parsing then re-serialising each batch
 * (plus the spool's own copy) was the biggest cost off the model. Each builder checks what the schema
 * (`resultsMessage` in messages.ts) would check, so what is built here is always accepted there — the
 * protocol spec holds the two together. `parseMessage` still guards everything inbound.
 */
export interface ResultRecordFields {
  /** Node-scoped, increasing. */
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly modelSha256: string;
  readonly model: { readonly name: string; readonly version: string; readonly variant: string };
  readonly inputRef?: string | undefined;
  readonly topClass: number;
  /** Clamped to [0, 1] here, as the wire contract wants a probability (and 0 below what a `real` holds). */
  readonly confidence: number;
  readonly latencyMs: number;
}

/** An outgoing message the builder refused: a bug on the sending side, never sent. */
export class UnencodableMessageError extends Error {
  constructor(detail: string) {
    super(`cannot encode results: ${detail}`);
    this.name = 'UnencodableMessageError';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

function text(value: string, min: number, max: number, field: string): string {
  if (typeof value !== 'string' || value.length < min || value.length > max) throw new UnencodableMessageError(`${field}: expected ${min}–${max} characters`);
  if (value.includes('\u0000')) throw new UnencodableMessageError(`${field}: contains the NUL character`);
  return JSON.stringify(value);
}

/** One record of a results message as JSON text (an element of `records`). */
export function encodeResultRecord(r: ResultRecordFields): string {
  return new ResultRecordEncoder().encode(r);
}

/**
 * `encodeResultRecord` for a stream of records (the agent encodes one per served inference): the served
 * model's text is checked and written once per model object (the serving model is one object until a
 * swap; its fields are readonly), and times are formatted with the minute kept (`IsoTimeFormatter`).
 * The output is the same text, refused for the same reasons.
 */
export class ResultRecordEncoder {
  private readonly time = new IsoTimeFormatter();
  private model?: ResultRecordFields['model'];
  private modelSha256 = '';
  private modelJson = '';

  encode(r: ResultRecordFields): string {
    if (!Number.isSafeInteger(r.seq) || r.seq < 0) throw new UnencodableMessageError(`seq ${r.seq}`);
    if (!Number.isSafeInteger(r.topClass) || r.topClass < 0 || r.topClass > 1_000_000) throw new UnencodableMessageError(`topClass ${r.topClass}`);
    if (!(r.latencyMs >= 0 && r.latencyMs <= PG_REAL_MAX && fitsReal(r.latencyMs))) throw new UnencodableMessageError(`latencyMs ${r.latencyMs}`);
    if (!Number.isFinite(r.confidence)) throw new UnencodableMessageError(`confidence ${r.confidence}`);
    const ts = this.time.format(r.at); // throws RangeError on an invalid time
    if (!(r.at >= MIN_WIRE_TIME_MS && r.at < MAX_WIRE_TIME_MS)) throw new UnencodableMessageError(`at ${ts}: outside years 0001–9999`);
    const model = this.modelText(r);
    const inputRef = r.inputRef === undefined ? '' : `,"inputRef":${text(r.inputRef, 0, 200, 'inputRef')}`;
    const clamped = Math.min(1, Math.max(0, r.confidence));
    const confidence = fitsReal(clamped) ? clamped : 0;
    return `{"seq":${r.seq},"ts":"${ts}","modelSha256":"${r.modelSha256}","model":${model}${inputRef},"topClass":${r.topClass},"confidence":${confidence},"latencyMs":${r.latencyMs}}`;
  }

  /** The checked `model` JSON, kept while records name the same model object and digest. */
  private modelText(r: ResultRecordFields): string {
    if (r.model === this.model && r.modelSha256 === this.modelSha256) return this.modelJson;
    if (!SHA256.test(r.modelSha256)) throw new UnencodableMessageError('modelSha256: expected a lowercase hex sha256');
    const json = `{"name":${text(r.model.name, 1, 100, 'model.name')},"version":${text(r.model.version, 1, 64, 'model.version')},"variant":${text(r.model.variant, 1, 32, 'model.variant')}}`;
    this.model = r.model;
    this.modelSha256 = r.modelSha256;
    this.modelJson = json;
    return json;
  }
}

/**
 * A whole results message from records already encoded by `encodeResultRecord` (or read back from the
 * agent's own spool, checked when it was read): the envelope is filled here, `id` is the batch's.
 */
export function encodeResultsMessage(batchId: string, records: readonly string[] | EncodedRecords, now: Date = new Date()): Buffer {
  return framedResults(batchId, records, now, RECORDS_END);
}

/**
 * `encodeResultsMessage` and a newline in one buffer: the agent spools this line and publishes the
 * message in it (`line.subarray(0, -1)`), so a batch's records are in memory once, and a batch from the
 * agent's builder is framed in place (`EncodedRecords.framed`).
 */
export function encodeResultsLine(batchId: string, records: EncodedRecords, now: Date = new Date()): Buffer {
  return framedResults(batchId, records, now, LINE_END);
}

function framedResults(batchId: string, records: readonly string[] | EncodedRecords, now: Date, end: Buffer): Buffer {
  const encoded = records instanceof EncodedRecords ? records : EncodedRecords.from(records);
  if (encoded.count < 1 || encoded.count > MAX_RESULTS_PER_BATCH) throw new UnencodableMessageError(`${encoded.count} records (1–${MAX_RESULTS_PER_BATCH} per batch)`);
  const { v, ts } = envelopeFields(now);
  const head = Buffer.from(`{"v":${v},"id":${JSON.stringify(batchId)},"ts":"${ts}","records":[`);
  const size = head.length + encoded.bytes.length + RECORDS_END.length;
  if (size > MAX_PAYLOAD_BYTES.results) throw new UnencodableMessageError(`${size} bytes (at most ${MAX_PAYLOAD_BYTES.results})`);
  return encoded.framed(head, end);
}

const RECORDS_END = Buffer.from(']}');
const LINE_END = Buffer.from(']}\n');
