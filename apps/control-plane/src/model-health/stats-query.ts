import { ValidationError } from '#common';
import { isLabelKey } from '../nodes/label-selector.js';

/** What a stats query groups by: nothing (the total only), each node, or each value of one node label. */
export type StatsGrouping = { readonly kind: 'none' } | { readonly kind: 'node' } | { readonly kind: 'label'; readonly key: string };

const UNIT_SECONDS = { m: 60, h: 3600, d: 86_400 } as const;
/** Rollups are per minute, so windows are whole minutes; 30 days bounds what one query may read. */
export const MAX_WINDOW_SECONDS = 30 * 86_400;
export const DEFAULT_WINDOW = '1h';

/** `15m`, `6h`, `7d` → seconds; a clear 400 for anything else (zero, over 30 days, other units). */
export function parseWindow(window: string = DEFAULT_WINDOW): number {
  const match = /^([1-9][0-9]{0,5})([mhd])$/.exec(window);
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS] : NaN;
  if (!(seconds <= MAX_WINDOW_SECONDS)) {
    throw new ValidationError('invalid window', [{ field: 'window', message: `a whole number of minutes, hours or days (15m, 6h, 7d), at most 30d; got '${window}'` }]);
  }
  return seconds;
}

/** `node` or `label:<key>` (a valid label key); absent → the total only. */
export function parseGroupBy(groupBy: string | undefined): StatsGrouping {
  if (groupBy === undefined || groupBy === '') return { kind: 'none' };
  if (groupBy === 'node') return { kind: 'node' };
  if (groupBy.startsWith('label:') && isLabelKey(groupBy.slice('label:'.length))) return { kind: 'label', key: groupBy.slice('label:'.length) };
  throw new ValidationError('invalid groupBy', [{ field: 'groupBy', message: `'node' or 'label:<key>' with a valid label key; got '${groupBy}'` }]);
}
