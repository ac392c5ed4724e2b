import { ValidationError } from '#common';

/** Node labels: Kubernetes-style keys and values. */
export type Labels = Record<string, string>;

export type Requirement =
  | { readonly key: string; readonly op: 'exists' | 'not-exists' }
  | { readonly key: string; readonly op: 'eq' | 'neq'; readonly value: string }
  | { readonly key: string; readonly op: 'in' | 'not-in'; readonly values: readonly string[] };

const NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const KEY_RE = new RegExp(`^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?${NAME}$`);
const VALUE_RE = new RegExp(`^(?:${NAME})?$`);
const MAX_LABELS = 64;

export function isLabelKey(key: string): boolean {
  return key.length <= 317 && KEY_RE.test(key);
}

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && VALUE_RE.test(value);
}

/** Returns the problems with a label map (empty when valid). */
export function labelProblems(labels: Record<string, unknown>): string[] {
  const entries = Object.entries(labels);
  const problems: string[] = entries.length > MAX_LABELS ? [`at most ${MAX_LABELS} labels`] : [];
  for (const [key, value] of entries) {
    if (!isLabelKey(key)) problems.push(`invalid label key '${key}'`);
    if (typeof value !== 'string' || !isLabelValue(value)) problems.push(`invalid value for label '${key}'`);
  }
  return problems;
}

/** Splits on commas that are not inside a parenthesised value list. */
function splitRequirements(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

const SET_RE = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/;
const EQUALITY_RE = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/;
const EXISTS_RE = /^(!?)\s*([^=!\s()]+)$/;

function parseRequirement(text: string): Requirement {
  const set = SET_RE.exec(text);
  if (set) {
    const [, key = '', op, list = ''] = set;
    const values = list.split(',').map((v) => v.trim());
    if (list.trim() === '' || values.some((v) => !isLabelValue(v))) throw invalid(text, 'invalid value list');
    return { key: checkedKey(key, text), op: op === 'in' ? 'in' : 'not-in', values };
  }
  const equality = EQUALITY_RE.exec(text);
  if (equality) {
    const [, key = '', op, value = ''] = equality;
    if (!isLabelValue(value)) throw invalid(text, `invalid value '${value}'`);
    return { key: checkedKey(key, text), op: op === '!=' ? 'neq' : 'eq', value };
  }
  const exists = EXISTS_RE.exec(text);
  if (exists) {
    const [, bang, key = ''] = exists;
    return { key: checkedKey(key, text), op: bang ? 'not-exists' : 'exists' };
  }
  throw invalid(text, 'unrecognised requirement');
}

function checkedKey(key: string, text: string): string {
  if (!isLabelKey(key)) throw invalid(text, `invalid key '${key}'`);
  return key;
}

function invalid(requirement: string, reason: string): ValidationError {
  return new ValidationError(`invalid label selector: ${reason} in '${requirement}'`, [
    { field: 'selector', message: `${reason} in '${requirement}'` },
  ]);
}

/**
 * Parses a Kubernetes-style label selector: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
 * `k` (exists) and `!k` (does not exist), joined by commas (AND). An empty selector matches everything.
 */
export function parseLabelSelector(selector: string): Requirement[] {
  if (selector.trim() === '') return [];
  return splitRequirements(selector).map(parseRequirement);
}

/** Tells whether labels satisfy every requirement (the same semantics as the SQL below). */
export function matchesSelector(labels: Labels, requirements: readonly Requirement[]): boolean {
  return requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    switch (r.op) {
      case 'exists':
        return has;
      case 'not-exists':
        return !has;
      case 'eq':
        return has && value === r.value;
      case 'neq':
        return !has || value !== r.value;
      case 'in':
        return has && r.values.includes(value ?? '');
      case 'not-in':
        return !has || !r.values.includes(value ?? '');
    }
  });
}

export interface SqlFragment {
  readonly sql: string;
  readonly params: Record<string, unknown>;
}

/**
 * Renders requirements as a SQL condition on a jsonb column. Containment (`@>`) and key existence (`?`)
 * are the operators the column's GIN index serves; negations follow Kubernetes: a node without the key
 * satisfies `k!=v` and `k notin (...)`.
 */
export function selectorToSql(requirements: readonly Requirement[], column: string): SqlFragment {
  const clauses: string[] = [];
  const params: Record<string, unknown> = {};
  requirements.forEach((r, i) => {
    const p = `sel${i}`;
    switch (r.op) {
      case 'exists':
        params[p] = r.key;
        clauses.push(`${column} ? :${p}`);
        break;
      case 'not-exists':
        params[p] = r.key;
        clauses.push(`NOT (${column} ? :${p})`);
        break;
      case 'eq':
        params[p] = JSON.stringify({ [r.key]: r.value });
        clauses.push(`${column} @> CAST(:${p} AS jsonb)`);
        break;
      case 'neq':
        params[p] = JSON.stringify({ [r.key]: r.value });
        clauses.push(`NOT (${column} @> CAST(:${p} AS jsonb))`);
        break;
      case 'in':
        params[p] = r.values.map((v) => JSON.stringify({ [r.key]: v }));
        clauses.push(`${column} @> ANY(CAST(:${p} AS jsonb[]))`);
        break;
      case 'not-in':
        params[p] = r.values.map((v) => JSON.stringify({ [r.key]: v }));
        clauses.push(`NOT (${column} @> ANY(CAST(:${p} AS jsonb[])))`);
        break;
    }
  });
  return { sql: clauses.length ? clauses.join(' AND ') : 'TRUE', params };
}
