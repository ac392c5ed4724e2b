import { ApiProblemError } from '#api-client';

/**
 * The field violations of a 400 problem (`errors: [{field, message}]`), by field, for a form to show each
 * next to its input. Nested fields (`inputSpec.shape`) are kept whole; the form decides where they go.
 */
export function fieldViolations(error: Error | undefined): ReadonlyMap<string, string> {
  const byField = new Map<string, string>();
  if (!(error instanceof ApiProblemError)) return byField;
  for (const v of error.problem.errors ?? []) byField.set(v.field, byField.has(v.field) ? `${byField.get(v.field)}; ${v.message}` : v.message);
  return byField;
}

/** The first violation of `field` or of one of its sub-fields (`inputSpec` → `inputSpec.shape`). */
export function violationOf(violations: ReadonlyMap<string, string>, field: string): string | undefined {
  for (const [name, message] of violations) if (name === field || name.startsWith(`${field}.`) || name.startsWith(`${field}[`)) return message;
  return undefined;
}
