import { z } from 'zod';

/**
 * Field types bounded to what the control plane's PostgreSQL columns hold. A value the schema lets
 * through but a column refuses fails the whole batch it is written in, so every uplink field is held
 * to its column here, at parse, where the refusal is the sender's alone.
 */

/** PostgreSQL `integer` (int4). */
export const PG_INTEGER_MAX = 2_147_483_647;

/**
 * What one heartbeat window may count (inferences, errors, a histogram bucket): 2^32 − 1, far beyond any
 * device in a 10-second window. Its use bounds it, not its column: the rollups add a node's heartbeats into
 * `bigint` counters and 20-digit packed histogram buckets, and at this bound even the fastest ingest cannot
 * overflow an hour's row. At 2^53 − 1 a node overflowed them with about a thousand heartbeats, and every
 * batch it was in lost its rollups.
 */
export const MAX_WINDOW_COUNT = 2 ** 32 - 1;

/** The largest finite 32-bit float (PostgreSQL `real`). */
export const PG_REAL_MAX = 3.4028234663852886e38;

const NUL = '\u0000';

/**
 * Text PostgreSQL can store: `text`, `varchar` and `jsonb` all refuse the NUL character. `max` counts
 * UTF-16 code units, never fewer than the characters `varchar(n)` counts, so `max = n` always fits.
 */
export function safeText(max: number, min = 0) {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((s) => !s.includes(NUL), 'must not contain the NUL character (\\u0000)');
}

/** A whole number in [min, PG_INTEGER_MAX] (an `integer` column). */
export function int32(min = 0, max = PG_INTEGER_MAX) {
  return z.number().int().min(min).max(Math.min(max, PG_INTEGER_MAX));
}

/**
 * A number a `real` column stores: within [min, max] and representable as a 32-bit float. PostgreSQL
 * refuses what rounds to infinity and also a non-zero value that rounds to zero (1e-50 is "out of range
 * for type real"), which a plain range check such as [0, 1] lets through.
 */
export function real(min = -PG_REAL_MAX, max = PG_REAL_MAX) {
  return z
    .number()
    .min(Math.max(min, -PG_REAL_MAX))
    .max(Math.min(max, PG_REAL_MAX))
    .refine(fitsReal, 'not representable as a 32-bit float (PostgreSQL real): too small a magnitude');
}

export function fitsReal(value: number): boolean {
  const rounded = Math.fround(value);
  return Number.isFinite(rounded) && (rounded !== 0 || value === 0);
}

/**
 * An ISO 8601 time with an offset that `timestamptz` takes: zod already refuses impossible days
 * (2026-02-30); PostgreSQL also refuses year 0000, which the ISO format allows.
 */
export const timestamp = z.iso.datetime({ offset: true }).refine((s) => !s.startsWith('0000'), 'year 0000 does not exist (PostgreSQL refuses it)');

/**
 * Free text a sender builds from elsewhere (an engine's error message) made to fit `safeText(max)`:
 * NUL becomes U+FFFD and the rest is cut, so a report is never refused for its wording.
 */
export function toSafeText(text: string, max: number): string {
  return text.replaceAll(NUL, '\uFFFD').slice(0, max);
}
