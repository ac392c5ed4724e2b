import { ValidationError } from '#common';
import { type ResultsPolicy, resultsPolicySchema } from '#protocol';

/**
 * A results policy from a request body (already shape-checked by class-validator) held to the
 * protocol's schema, which also checks what one field alone cannot: `rate` with `sample` and only then.
 * The stored value is the parsed one, so what is signed into desired states later is exactly this.
 */
export function toResultsPolicy(input: unknown, field = 'resultsPolicy'): ResultsPolicy {
  const parsed = resultsPolicySchema.safeParse(input);
  if (parsed.success) return { mode: parsed.data.mode, ...(parsed.data.rate === undefined ? {} : { rate: parsed.data.rate }) };
  const violations = parsed.error.issues.map((i) => ({ field: [field, ...i.path.map(String)].join('.'), message: i.message }));
  throw new ValidationError(`invalid results policy: ${violations.map((v) => `${v.field}: ${v.message}`).join('; ')}`, violations, { cause: parsed.error });
}
