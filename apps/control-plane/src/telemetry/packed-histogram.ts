/**
 * Histograms as PostgreSQL stores them: one `numeric` Σ countᵢ · 10^(20·i), each bucket in its own 20
 * decimal digits. PostgreSQL's native `sum` and `+` on numeric then add histograms bucket by bucket with
 * no carry between buckets (a bucket's total stays below 10^20: far beyond any fleet's inference count).
 * A bigint[] merged by a SQL-level function cost ~35 µs a row; the native numeric sum ~0.5 µs, which is
 * what keeps the stats route within its budget (bench/model-stats).
 */
export const PACKED_DIGITS = 20;

/** Dense counts → the numeric's decimal text ('0' for an empty histogram). */
export function packHistogram(counts: readonly number[]): string {
  // Text, not BigInt arithmetic: each bucket is its count left-padded to 20 digits (the ingest path packs every heartbeat).
  let top = counts.length - 1;
  while (top >= 0 && !counts[top]) top--;
  if (top < 0) return '0';
  let text = String(counts[top]);
  for (let i = top - 1; i >= 0; i--) text += String(counts[i] ?? 0).padStart(PACKED_DIGITS, '0');
  return text;
}

/**
 * Sparse (bucket, count) pairs → the same text as `packHistogram` of their dense form, without building it
 * (ingest packs two histograms per heartbeat). Pairs out of order or repeated take the dense way.
 */
export function packSparseHistogram(pairs: readonly (readonly [number, number])[], buckets: number): string {
  for (let i = 1; i < pairs.length; i++) {
    if ((pairs[i] as readonly [number, number])[0] <= (pairs[i - 1] as readonly [number, number])[0]) return packHistogram(densify(pairs, buckets));
  }
  let top = pairs.length - 1;
  while (top >= 0 && !(pairs[top] as readonly [number, number])[1]) top--;
  if (top < 0) return '0';
  const [topBucket, topCount] = pairs[top] as readonly [number, number];
  let below = topBucket;
  let text = String(topCount);
  for (let i = top - 1; i >= 0; i--) {
    const [bucket, n] = pairs[i] as readonly [number, number];
    text += ZEROS.repeat(below - bucket - 1) + String(n).padStart(PACKED_DIGITS, '0');
    below = bucket;
  }
  return text + ZEROS.repeat(below);
}

const ZEROS = '0'.repeat(PACKED_DIGITS);

function densify(pairs: readonly (readonly [number, number])[], buckets: number): number[] {
  const dense = new Array<number>(buckets).fill(0);
  for (const [bucket, n] of pairs) dense[bucket] = (dense[bucket] ?? 0) + n;
  return dense;
}

/** The numeric's text (as the pg driver returns it; null for none) → `length` dense counts. */
export function unpackHistogram(text: string | null, length: number): number[] {
  const digits = (text ?? '0').split('.')[0] ?? '0';
  return Array.from({ length }, (_, i) => {
    const end = digits.length - i * PACKED_DIGITS;
    return end <= 0 ? 0 : Number(digits.slice(Math.max(0, end - PACKED_DIGITS), end));
  });
}

/** SQL for the packed one-hot histogram of `count` samples in bucket `bucket` (both SQL expressions). */
export const packedBucketSql = (count: string, bucket: string) => `(${count})::numeric * trunc(power(10::numeric, ${PACKED_DIGITS} * (${bucket})))`;
