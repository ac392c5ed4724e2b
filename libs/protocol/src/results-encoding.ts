import { fitsReal, PG_REAL_MAX } from './bounds.js';
import { envelopeFields } from './codec.js';
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
  if (!Number.isSafeInteger(r.seq) || r.seq < 0) throw new UnencodableMessageError(`seq ${r.seq}`);
  if (!Number.isSafeInteger(r.topClass) || r.topClass < 0 || r.topClass > 1_000_000) throw new UnencodableMessageError(`topClass ${r.topClass}`);
  if (!(r.latencyMs >= 0 && r.latencyMs <= PG_REAL_MAX && fitsReal(r.latencyMs))) throw new UnencodableMessageError(`latencyMs ${r.latencyMs}`);
  if (!Number.isFinite(r.confidence)) throw new UnencodableMessageError(`confidence ${r.confidence}`);
  if (!SHA256.test(r.modelSha256)) throw new UnencodableMessageError('modelSha256: expected a lowercase hex sha256');
  const ts = new Date(r.at).toISOString(); // throws RangeError on an invalid time
  if (!/^\d{4}-/.test(ts) || ts.startsWith('0000')) throw new UnencodableMessageError(`at ${ts}: outside years 0001–9999`);
  const model = `{"name":${text(r.model.name, 1, 100, 'model.name')},"version":${text(r.model.version, 1, 64, 'model.version')},"variant":${text(r.model.variant, 1, 32, 'model.variant')}}`;
  const inputRef = r.inputRef === undefined ? '' : `,"inputRef":${text(r.inputRef, 0, 200, 'inputRef')}`;
  const clamped = Math.min(1, Math.max(0, r.confidence));
  const confidence = fitsReal(clamped) ? clamped : 0;
  return `{"seq":${r.seq},"ts":"${ts}","modelSha256":"${r.modelSha256}","model":${model}${inputRef},"topClass":${r.topClass},"confidence":${confidence},"latencyMs":${r.latencyMs}}`;
}

/**
 * A whole results message from records already encoded by `encodeResultRecord` (or read back from the
 * agent's own spool, checked when it was read): the envelope is filled here, `id` is the batch's.
 */
export function encodeResultsMessage(batchId: string, records: readonly string[], now: Date = new Date()): Buffer {
  if (records.length < 1 || records.length > MAX_RESULTS_PER_BATCH) throw new UnencodableMessageError(`${records.length} records (1–${MAX_RESULTS_PER_BATCH} per batch)`);
  const { v, ts } = envelopeFields(now);
  const payload = Buffer.from(`{"v":${v},"id":${JSON.stringify(batchId)},"ts":"${ts}","records":[${records.join(',')}]}`);
  if (payload.length > MAX_PAYLOAD_BYTES.results) throw new UnencodableMessageError(`${payload.length} bytes (at most ${MAX_PAYLOAD_BYTES.results})`);
  return payload;
}
