import { randomBytes, randomUUID } from 'node:crypto';
import { type OpenApiDocument, type OpenApiSchema, type Operation, operationsOf, sampleOf } from './openapi.js';
import { multipartBody, type RawAnswer, rawRequest } from './raw-http.js';

/**
 * A route fuzzer driven by the OpenAPI document: for every operation it sends wrong ids, wrong types,
 * missing and extra fields, deep and oversized values, truncated bodies and wrong content types, and
 * calls the valid form of every operation on objects in several states. Each answer must be below 500
 * and, when a refusal, RFC 7807 problem+json (`verdictOf`).
 */
export interface FuzzCase {
  readonly label: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer | string;
  /** The connection is destroyed after the body is written: no answer is expected. */
  readonly cut?: boolean;
}

export interface FuzzContext {
  /** `Authorization` header value of a key allowed to call every route. */
  readonly authorization: string;
  /** `Authorization` of a read-only key: every mutation must be refused with a problem. */
  readonly viewerAuthorization?: string;
  /** The file part of valid multipart uploads (random bytes otherwise). */
  readonly artifact?: Buffer;
  /**
   * Valid values of path parameters, by the collection before `{id}` (`nodes`, `rollouts`, ...) or by
   * the parameter's own name (`name`, `version`, `sha256`). Every value is tried: objects in several
   * states make the valid calls also calls in wrong states.
   */
  readonly pathValues: Readonly<Record<string, readonly string[]>>;
  /**
   * Valid values of body fields whose validity depends on stored state (ids, tokens), by field name or,
   * to differ per route, by `<templated path>#<field>`; an `undefined` value leaves the field out.
   */
  readonly fieldValues: Readonly<Record<string, unknown>>;
}

export interface FuzzResult {
  readonly fuzzCase: FuzzCase;
  readonly answer: RawAnswer | undefined;
}

const HUGE_NUMBER = '99999999999999999999999';
const BAD_SEGMENTS = [randomUUID(), 'not-a-uuid', '%00', HUGE_NUMBER, 'x'.repeat(4000), '%ff%fe', '..%2f..%2fetc', '%E2%80%AE%F0%9F%92%A9', '-1'];
const BAD_QUERY_VALUES = ['abc', '-1', HUGE_NUMBER, '1.5', '%00', 'x'.repeat(4000), '', '%ff'];
const WRONG_CONTENT_TYPES = ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'multipart/form-data'];
const PLACEHOLDER = '"__fuzz_raw__"';

const omit = <T>(record: Record<string, T>, key: string): Record<string, T> => Object.fromEntries(Object.entries(record).filter(([k]) => k !== key));
const deepJson = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

function paramKey(path: string, param: string): string {
  if (param !== 'id') return param;
  const segments = path.split('/');
  return segments[segments.indexOf('{id}') - 1] ?? param;
}

function fill(op: Operation, ctx: FuzzContext, overrides: Record<string, string> = {}, query = ''): string {
  let path = op.path;
  for (const param of op.pathParams) {
    const value = overrides[param] ?? encodeURIComponent(ctx.pathValues[paramKey(op.path, param)]?.[0] ?? 'unknown');
    path = path.replace(`{${param}}`, value);
  }
  return query ? `${path}?${query}` : path;
}

function fieldValue(ctx: FuzzContext, path: string, name: string, schema: OpenApiSchema): unknown {
  const specific = `${path}#${name}`;
  if (specific in ctx.fieldValues) return ctx.fieldValues[specific];
  return name in ctx.fieldValues ? ctx.fieldValues[name] : sampleOf(schema);
}

function validBody(op: Operation, schema: OpenApiSchema, ctx: FuzzContext): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) body[name] = fieldValue(ctx, op.path, name, property);
  return body;
}

/** Values of the wrong type for a property, plus edge values of its own type. */
function wrongValuesFor(schema: OpenApiSchema): string[] {
  const values = ['null', '"x"', '{"unexpected":{"nested":[1,2,3]}}', '[1,"two",null]', 'true', HUGE_NUMBER, '-1', '1e308', JSON.stringify('x'.repeat(100_000))];
  if (schema.type === 'string') values.splice(1, 1, '12');
  if (schema.type === 'array') values.push(`[${Array.from({ length: 20_000 }, () => '{"k":1}').join(',')}]`);
  return values;
}

function jsonCases(op: Operation, schema: OpenApiSchema, ctx: FuzzContext, headers: Record<string, string>): FuzzCase[] {
  const path = fill(op, ctx);
  const json = { ...headers, 'content-type': 'application/json' };
  const valid = validBody(op, schema, ctx);
  const text = JSON.stringify(valid);
  const cases: FuzzCase[] = [
    { label: 'empty JSON body', method: op.method, path, headers: json, body: '' },
    ...['null', '[]', '"text"', '42', '{', '{"a":1,}', text.slice(0, Math.ceil(text.length / 2))].map((body) => ({ label: `JSON body ${body.slice(0, 20)}`, method: op.method, path, headers: json, body })),
    { label: 'JSON nested 5000 deep', method: op.method, path, headers: json, body: deepJson(5000) },
    { label: 'JSON array nested 5000 deep', method: op.method, path, headers: json, body: `${'['.repeat(5000)}${']'.repeat(5000)}` },
    { label: 'extra field', method: op.method, path, headers: json, body: JSON.stringify({ ...valid, unexpectedField: 1 }) },
    { label: 'body over the size limit', method: op.method, path, headers: json, body: JSON.stringify({ ...valid, pad: 'x'.repeat(1_100_000) }) },
    { label: 'body cut mid-way', method: op.method, path, headers: { ...json, 'content-length': String(text.length + 100) }, body: text, cut: true },
    ...WRONG_CONTENT_TYPES.map((type) => ({ label: `content type ${type}`, method: op.method, path, headers: { ...headers, 'content-type': type }, body: text })),
  ];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    cases.push({ label: `missing ${name}`, method: op.method, path, headers: json, body: JSON.stringify(omit(valid, name)) });
    for (const raw of wrongValuesFor(property)) {
      const body = JSON.stringify({ ...valid, [name]: '__fuzz_raw__' }).replace(PLACEHOLDER, raw);
      cases.push({ label: `${name} = ${raw.slice(0, 20)}`, method: op.method, path, headers: json, body });
    }
    // One level down (the enrolment's hardware profile): wrong types inside a valid outer body.
    for (const [inner, innerSchema] of Object.entries(property.properties ?? {})) {
      for (const raw of ['null', innerSchema.type === 'string' ? '12' : '"x"', HUGE_NUMBER]) {
        const nested = JSON.stringify({ ...valid, [name]: { ...validBody(op, property, ctx), [inner]: '__fuzz_raw__' } }).replace(PLACEHOLDER, raw);
        cases.push({ label: `${name}.${inner} = ${raw}`, method: op.method, path, headers: json, body: nested });
      }
    }
  }
  return cases;
}

function multipartCases(op: Operation, schema: OpenApiSchema, ctx: FuzzContext, headers: Record<string, string>): FuzzCase[] {
  const path = fill(op, ctx);
  const boundary = `fuzz${randomBytes(8).toString('hex')}`;
  const form = { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` };
  const fileField = Object.entries(schema.properties ?? {}).find(([, p]) => p.format === 'binary')?.[0] ?? 'file';
  const fields: Record<string, string> = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (name === fileField) continue;
    const value = fieldValue(ctx, op.path, name, property);
    if (value !== undefined) fields[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  const file = { name: fileField, bytes: ctx.artifact ?? randomBytes(4096) };
  const body = (f: Record<string, string>, truncate = false) => multipartBody(boundary, f, file, truncate);
  const cases: FuzzCase[] = [
    { label: 'multipart valid form', method: op.method, path, headers: form, body: body(fields) },
    { label: 'multipart without closing boundary', method: op.method, path, headers: form, body: body(fields, true) },
    { label: 'multipart cut mid-file', method: op.method, path, headers: { ...form, 'content-length': '999999' }, body: body(fields, true), cut: true },
    { label: 'multipart without boundary', method: op.method, path, headers: { ...headers, 'content-type': 'multipart/form-data' }, body: body(fields) },
    { label: 'multipart with a bad boundary', method: op.method, path, headers: { ...headers, 'content-type': 'multipart/form-data; boundary=nope' }, body: body(fields) },
    { label: 'multipart without the file', method: op.method, path, headers: form, body: Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="version"\r\n\r\n1.0.0\r\n--${boundary}--\r\n`) },
    { label: 'multipart with a second file', method: op.method, path, headers: form, body: Buffer.concat([body(fields, true), Buffer.from(`\r\n`), multipartBody(boundary, {}, file)]) },
    { label: 'multipart as JSON', method: op.method, path, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(fields) },
    { label: 'multipart as octet-stream', method: op.method, path, headers: { ...headers, 'content-type': 'application/octet-stream' }, body: randomBytes(1024) },
    { label: 'multipart with an extra field', method: op.method, path, headers: form, body: body({ ...fields, unexpectedField: '1' }) },
    { label: 'multipart fields over their size limit', method: op.method, path, headers: form, body: body({ ...fields, metrics: 'x'.repeat(17 * 1024 * 1024) }) },
  ];
  for (const name of Object.keys(schema.properties ?? {}).filter((n) => n !== fileField)) {
    cases.push({ label: `multipart missing ${name}`, method: op.method, path, headers: form, body: body(omit(fields, name)) });
    for (const value of ['', 'x'.repeat(70_000), 'a\u0000b', '{not json', deepJson(5000), HUGE_NUMBER, '99999999999999999999.0.0', '[1,2]']) {
      cases.push({ label: `multipart ${name} = ${value.slice(0, 20)}`, method: op.method, path, headers: form, body: body({ ...fields, [name]: value }) });
    }
  }
  return cases;
}

/** The cases for one operation: valid calls for every known object, then every kind of wrong input. */
export function casesFor(op: Operation, ctx: FuzzContext): FuzzCase[] {
  const headers = { authorization: ctx.authorization };
  const validFor = (values: Record<string, string>): FuzzCase => {
    const body = op.body?.mediaType === 'application/json' ? JSON.stringify(validBody(op, op.body.schema, ctx)) : undefined;
    return { label: 'valid call', method: op.method, path: fill(op, ctx, values), headers: body ? { ...headers, 'content-type': 'application/json' } : headers, body };
  };
  const first = op.pathParams[0];
  const known = first ? (ctx.pathValues[paramKey(op.path, first)] ?? []) : [];
  const cases: FuzzCase[] = first ? known.map((value) => validFor({ [first]: encodeURIComponent(value) })) : [validFor({})];
  cases.push({ label: 'no credentials', method: op.method, path: fill(op, ctx), headers: {} });
  cases.push({ label: 'unknown API key', method: op.method, path: fill(op, ctx), headers: { authorization: `Bearer ${randomBytes(32).toString('hex')}` } });
  if (ctx.viewerAuthorization) cases.push({ ...validFor({}), label: 'viewer key', headers: { ...validFor({}).headers, authorization: ctx.viewerAuthorization } });
  for (const param of op.pathParams) {
    for (const bad of BAD_SEGMENTS) cases.push({ label: `path ${param} = ${bad.slice(0, 20)}`, method: op.method, path: fill(op, ctx, { [param]: bad }), headers });
  }
  for (const param of op.queryParams) {
    for (const bad of BAD_QUERY_VALUES) cases.push({ label: `query ${param.name} = ${bad.slice(0, 20)}`, method: op.method, path: fill(op, ctx, {}, `${param.name}=${bad}`), headers });
    cases.push({ label: `query ${param.name} repeated`, method: op.method, path: fill(op, ctx, {}, `${param.name}=1&${param.name}=2`), headers });
    cases.push({ label: `query ${param.name} as object`, method: op.method, path: fill(op, ctx, {}, `${param.name}[a][b]=1`), headers });
  }
  if (op.body?.mediaType === 'application/json') cases.push(...jsonCases(op, op.body.schema, ctx, headers));
  if (op.body?.mediaType === 'multipart/form-data') cases.push(...multipartCases(op, op.body.schema, ctx, headers));
  return cases;
}

/** Every case for every operation of the document; the valid calls come again at the end, in the states the rest left. */
export function fuzzCases(doc: OpenApiDocument, ctx: FuzzContext): FuzzCase[] {
  const operations = operationsOf(doc);
  const all = operations.flatMap((op) => casesFor(op, ctx));
  return [...all, ...all.filter((c) => c.label === 'valid call')];
}

export async function runFuzz(baseUrl: string, cases: readonly FuzzCase[]): Promise<FuzzResult[]> {
  const results: FuzzResult[] = [];
  for (const fuzzCase of cases) {
    const answer = await rawRequest(baseUrl, { method: fuzzCase.method, path: fuzzCase.path, headers: fuzzCase.headers, body: fuzzCase.body, cut: fuzzCase.cut });
    results.push({ fuzzCase, answer });
  }
  return results;
}

/** Why a result breaks the contract (a 5xx, a refusal that is not problem+json, no answer), or undefined. */
export function verdictOf(result: FuzzResult): string | undefined {
  const { answer, fuzzCase } = result;
  if (!answer) return fuzzCase.cut ? undefined : 'no answer';
  if (answer.status >= 500) return `${answer.status}: ${answer.body.slice(0, 200)}`;
  if (answer.status >= 400 && !answer.contentType.startsWith('application/problem+json')) return `${answer.status} as ${answer.contentType || 'no content type'}`;
  return undefined;
}
