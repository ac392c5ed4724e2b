import { ValidationError } from '#common';
import { type ReferenceStats, referenceStatsSchema } from '#protocol';

/**
 * An upload's `referenceStats` field → the protocol's bounded shape (the one nodes parse from the
 * manifest), or a 400 naming each bad field. Checked here so nothing is signed that nodes would refuse.
 */
export function parseReferenceStats(value: unknown): ReferenceStats {
  const parsed = referenceStatsSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const violations = parsed.error.issues.map((issue) => ({ field: ['referenceStats', ...issue.path].join('.'), message: issue.message }));
  throw new ValidationError('invalid referenceStats', violations, { cause: parsed.error });
}
