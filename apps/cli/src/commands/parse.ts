import { InvalidArgumentError } from 'commander';

/** `k=v` pairs (commander collects repeated options); `k-` removes a label, as kubectl does. */
export function labelPatch(pairs: readonly string[]): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const pair of pairs) {
    if (pair.endsWith('-') && !pair.includes('=')) {
      patch[pair.slice(0, -1)] = null;
      continue;
    }
    const at = pair.indexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`'${pair}' is not key=value (or key- to remove a label)`);
    patch[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return patch;
}

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`'${value}' is not a positive integer`);
  return n;
}

/** `1,28,28,1` → [1, 28, 28, 1] */
export function shape(value: string): number[] {
  const dims = value.split(',').map((d) => Number(d.trim()));
  if (dims.length === 0 || dims.some((d) => !Number.isSafeInteger(d) || d < 1)) throw new InvalidArgumentError(`'${value}' is not a shape like 1,28,28,1`);
  return dims;
}

export function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError(`'${value.slice(0, 60)}' is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** A results policy as the API takes it. */
export type ResultsPolicyArg = { mode: 'all' | 'aggregates' } | { mode: 'sample'; rate: number };

/** `all`, `aggregates` or `sample:RATE` (0 < RATE ≤ 1) → the API's results policy. */
export function resultsPolicy(value: string): ResultsPolicyArg {
  if (value === 'all' || value === 'aggregates') return { mode: value };
  const match = /^sample:(.+)$/.exec(value);
  const rate = match ? Number(match[1]) : Number.NaN;
  if (!(rate > 0 && rate <= 1)) throw new InvalidArgumentError(`'${value.slice(0, 60)}' is not all, aggregates or sample:RATE with 0 < RATE ≤ 1`);
  return { mode: 'sample', rate };
}
