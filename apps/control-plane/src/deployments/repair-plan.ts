import { chunkCount } from '#protocol';

/** Chunks answered per repair request; a node asks again for the rest. */
export const MAX_REPAIR_CHUNKS = 8192;

export interface ChunkLayout {
  readonly size: number;
  readonly chunkSize: number;
}

/**
 * The chunk indices a request names, merged: overlapping and repeated ranges give each index once, in
 * ascending order, clipped to the artifact and to `max` indices. The ranges are merged before any index
 * is listed, so the work is bounded by the number of ranges and `max`, whatever the ranges span.
 */
export function requestedChunks(missing: readonly (readonly [number, number])[], layout: ChunkLayout, max = MAX_REPAIR_CHUNKS): number[] {
  const last = chunkCount(layout.size, layout.chunkSize) - 1;
  const ranges = missing.filter(([start]) => start <= last).sort((a, b) => a[0] - b[0]);
  const indices: number[] = [];
  let next = 0; // every index below `next` is listed already
  for (const [start, end] of ranges) {
    for (let i = Math.max(start, next); i <= Math.min(end, last); i++) {
      if (indices.length === max) return indices;
      indices.push(i);
    }
    next = Math.max(next, end + 1);
  }
  return indices;
}

/** Bytes of chunk `index` (the last one may be short). */
export const chunkBytes = (layout: ChunkLayout, index: number): number => Math.max(0, Math.min(layout.chunkSize, layout.size - index * layout.chunkSize));

export const totalBytes = (layout: ChunkLayout, indices: readonly number[]): number => indices.reduce((sum, i) => sum + chunkBytes(layout, i), 0);

/** What a node may receive by repair for one deployment, in bytes. */
export const repairBudgetBytes = (layout: ChunkLayout, maxArtifactMultiple: number): number => Math.floor(layout.size * maxArtifactMultiple);

export interface BudgetSplit {
  /** In request order, as many as fit. */
  readonly send: number[];
  /** The rest: over the node's budget. */
  readonly refused: number[];
}

/**
 * Splits `indices` into those that fit in what is left of the budget (`budget - used`) and the rest.
 * It takes a prefix: a node resumes from its lowest missing chunk, so the earliest ones matter most.
 */
export function fitBudget(layout: ChunkLayout, indices: readonly number[], used: number, budget: number): BudgetSplit {
  let left = budget - used;
  let fits = 0;
  while (fits < indices.length) {
    const bytes = chunkBytes(layout, indices[fits] as number);
    if (bytes > left) break;
    left -= bytes;
    fits++;
  }
  return { send: indices.slice(0, fits), refused: indices.slice(fits) };
}
