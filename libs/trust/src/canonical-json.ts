import { TrustError } from './trust-error.js';

/**
 * Canonical JSON for signing: object keys sorted by code point, no insignificant whitespace, only
 * finite numbers, no undefined. Two parties that agree on the value agree on the bytes.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TrustError('malformed', 'non-finite number in signed document');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TrustError('malformed', `cannot sign a value of type ${typeof value}`);
}
