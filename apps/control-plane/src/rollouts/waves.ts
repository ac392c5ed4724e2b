import { createHash } from 'node:crypto';
import type { RolloutStrategy } from './strategy.js';

/**
 * Wave sizes for `total` targets. Percentages are cumulative (a last wave up to 100% is implied);
 * an exponential ramp doubles (or multiplies by `factor`) until every target is covered. Empty waves
 * are dropped, so every wave has at least one node.
 */
export function planWaves(total: number, waves: RolloutStrategy['waves']): number[] {
  if (total <= 0) return [];
  const sizes: number[] = [];
  if ('percentages' in waves) {
    let covered = 0;
    for (const percent of [...waves.percentages, 100]) {
      const upTo = Math.min(total, Math.ceil((total * percent) / 100));
      if (upTo > covered) sizes.push(upTo - covered);
      covered = Math.max(covered, upTo);
    }
    return sizes;
  }
  let size = waves.exponential.first;
  for (let covered = 0; covered < total; covered += sizes.at(-1) as number) {
    sizes.push(Math.min(Math.ceil(size), total - covered));
    size *= waves.exponential.factor;
  }
  return sizes;
}

/**
 * A stable pseudo-random order of nodes for one rollout: which nodes land in the first (canary) wave
 * is spread across the fleet, differs between rollouts, and is the same however often it is computed.
 */
export function waveOrder(rolloutId: string, nodeIds: readonly string[]): string[] {
  const key = (id: string) => createHash('sha256').update(rolloutId).update(id).digest('hex');
  return nodeIds
    .map((id) => ({ id, key: key(id) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((x) => x.id);
}

/** Assigns ordered nodes to waves by the planned sizes: returns the wave index of each node. */
export function assignWaves(ordered: readonly string[], sizes: readonly number[]): Map<string, number> {
  const waves = new Map<string, number>();
  let wave = 0;
  let left = sizes[0] ?? 0;
  for (const id of ordered) {
    while (left === 0 && wave < sizes.length - 1) left = sizes[++wave] as number;
    waves.set(id, wave);
    left--;
  }
  return waves;
}
