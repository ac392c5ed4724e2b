import { z } from 'zod';
import { fitsReal, MAX_WINDOW_COUNT, PG_INTEGER_MAX, PG_REAL_MAX } from './bounds.js';
import { CONFIDENCE_BUCKET_COUNT, CONFIDENCE_HISTOGRAM_LAYOUT } from './confidence-histogram.js';
import { LATENCY_BUCKET_COUNT, LATENCY_HISTOGRAM_LAYOUT } from './latency-histogram.js';
import type { HeartbeatMessage } from './messages.js';

/**
 * A hand-written check of `heartbeatMessage` for the ingest hot path: zod's general machinery cost
 * ~25–60 µs per heartbeat (bench/heartbeat-ingest.ts), more than writing the row. It only ever says
 * "certainly valid": every bound of the schema is checked here as there, and whatever this check does
 * not accept goes on to the zod schema, which accepts it or says why not — so errors are zod's, word for
 * word, and an input this check gets wrong can only be slower, never let through. heartbeat-check.spec.ts
 * holds the two to the same verdicts.
 */
const UUID = z.core.regexes.uuid();
const ISO_DATETIME = z.core.regexes.datetime({ offset: true, local: false, precision: null });
const SHA256 = /^[0-9a-f]{64}$/;
const NONCE = /^[A-Za-z0-9_-]{16,128}$/;
const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;

const REQUIRED = ['v', 'id', 'ts', 'seq', 'model', 'uptimeS', 'cpu', 'memMb', 'freeDiskMb', 'inferences', 'errors', 'latencyMs'] as const;
const KEYS = new Set<string>([...REQUIRED, 'latencyHistogram', 'confidenceHistogram', 'attestation', 'drift']);

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const int = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const count = (v: unknown): v is number => int(v, 0, Number.MAX_SAFE_INTEGER);
const windowCount = (v: unknown): v is number => int(v, 0, MAX_WINDOW_COUNT);
const real = (v: unknown, min: number, max: number) => typeof v === 'number' && v >= min && v <= max && fitsReal(v);
const text = (v: unknown, min: number, max: number) => typeof v === 'string' && v.length >= min && v.length <= max && !v.includes('\u0000');

/** Only the listed keys, and every required one. */
function hasKeys(o: Json, allowed: ReadonlySet<string>, required: readonly string[]): boolean {
  for (const key in o) if (!allowed.has(key)) return false;
  for (const key of required) if (!(key in o)) return false;
  return true;
}

const MODEL_KEYS = new Set(['name', 'version', 'variant', 'sha256']);
const model = (m: unknown) =>
  m === null ||
  (isObject(m) && hasKeys(m, MODEL_KEYS, [...MODEL_KEYS]) && text(m['name'], 1, 200) && text(m['version'], 1, 200) && text(m['variant'], 1, 200) && typeof m['sha256'] === 'string' && SHA256.test(m['sha256']));

const LATENCY_KEYS = new Set(['p50', 'p99']);
const latency = (l: unknown) => l === null || (isObject(l) && hasKeys(l, LATENCY_KEYS, [...LATENCY_KEYS]) && real(l['p50'], 0, PG_REAL_MAX) && real(l['p99'], 0, PG_REAL_MAX));

/** [bucket, count] pairs, buckets strictly increasing; returns the counts' total, or -1 when invalid. */
function pairsTotal(counts: unknown, buckets: number, minLength: number): number {
  if (!Array.isArray(counts) || counts.length < minLength || counts.length > buckets) return -1;
  let total = 0;
  let previous = -1;
  for (const pair of counts) {
    if (!Array.isArray(pair) || pair.length !== 2) return -1;
    const [bucket, n] = pair as unknown[];
    if (!int(bucket, 0, buckets - 1) || !int(n, 1, MAX_WINDOW_COUNT) || bucket <= previous) return -1;
    previous = bucket;
    total += n;
  }
  return total;
}

const HISTOGRAM_KEYS = new Set(['layout', 'counts']);
const latencyHistogram = (h: unknown) =>
  isObject(h) && hasKeys(h, HISTOGRAM_KEYS, [...HISTOGRAM_KEYS]) && h['layout'] === LATENCY_HISTOGRAM_LAYOUT && pairsTotal(h['counts'], LATENCY_BUCKET_COUNT, 0) >= 0;

const CONFIDENCE_KEYS = new Set(['layout', 'counts', 'sum']);
/** Valid, and holding no more confidences than `inferences`. */
function confidenceHistogram(h: unknown, inferences: number): boolean {
  if (!isObject(h) || !hasKeys(h, CONFIDENCE_KEYS, [...CONFIDENCE_KEYS]) || h['layout'] !== CONFIDENCE_HISTOGRAM_LAYOUT) return false;
  const total = pairsTotal(h['counts'], CONFIDENCE_BUCKET_COUNT, 1);
  const sum = h['sum'];
  return total >= 0 && typeof sum === 'number' && sum >= 0 && sum <= Number.MAX_SAFE_INTEGER && sum <= total * (1 + 1e-9) && total <= inferences;
}

const ATTESTATION_KEYS = new Set(['nonce', 'sha256', 'sig']);
const attestation = (a: unknown) =>
  isObject(a) && hasKeys(a, ATTESTATION_KEYS, [...ATTESTATION_KEYS]) && typeof a['nonce'] === 'string' && NONCE.test(a['nonce']) &&
  typeof a['sha256'] === 'string' && SHA256.test(a['sha256']) && typeof a['sig'] === 'string' && SIGNATURE.test(a['sig']);

const DRIFT_KEYS = new Set(['input', 'confidence', 'samples']);
const drift = (d: unknown) => isObject(d) && hasKeys(d, DRIFT_KEYS, [...DRIFT_KEYS]) && real(d['input'], 0, 1000) && real(d['confidence'], 0, 1000) && int(d['samples'], 1, PG_INTEGER_MAX);

const timestamp = (ts: unknown) => typeof ts === 'string' && ISO_DATETIME.test(ts) && !ts.startsWith('0000');

/** True only for a value `heartbeatMessage` accepts unchanged (false means: ask the schema). */
export function isCertainlyHeartbeat(json: unknown, schemaVersion: number): json is HeartbeatMessage {
  if (!isObject(json) || !hasKeys(json, KEYS, REQUIRED)) return false;
  const m = json;
  return (
    m['v'] === schemaVersion && typeof m['id'] === 'string' && UUID.test(m['id']) && timestamp(m['ts']) &&
    count(m['seq']) && model(m['model']) && count(m['uptimeS']) && real(m['cpu'], 0, 1024) &&
    int(m['memMb'], 0, PG_INTEGER_MAX) && int(m['freeDiskMb'], 0, PG_INTEGER_MAX) && windowCount(m['inferences']) && windowCount(m['errors']) &&
    latency(m['latencyMs']) &&
    (!('latencyHistogram' in m) || latencyHistogram(m['latencyHistogram'])) &&
    (!('confidenceHistogram' in m) || confidenceHistogram(m['confidenceHistogram'], m['inferences'] as number)) &&
    (!('attestation' in m) || attestation(m['attestation'])) &&
    (!('drift' in m) || drift(m['drift']))
  );
}
