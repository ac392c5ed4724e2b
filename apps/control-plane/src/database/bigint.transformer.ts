import type { ValueTransformer } from 'typeorm';

/**
 * pg returns int8 as a string (it can exceed 2^53); our bigint columns (sizes, sequences, counters)
 * stay far below that, so the entities expose them as numbers. Null stays null.
 */
export const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
