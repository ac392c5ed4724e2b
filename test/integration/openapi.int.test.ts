import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { API_SCHEMA_PATH, generateApiSchema } from '../helpers/api-client-generate.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

interface Operation {
  summary?: string;
  description?: string;
  security?: unknown[];
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

const operations = (doc: Document) => Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, op })));

/** A 2xx that carries a schema, or a 204 (which has no body to describe). */
const hasSuccessSchema = (op: Operation) =>
  Object.entries(op.responses ?? {}).some(([status, r]) => status === '204' || (/^2\d\d$/.test(status) && Object.values(r.content ?? {}).some((c) => c.schema !== undefined)));

describe('the OpenAPI document a user reads (/docs-json)', () => {
  let t: TestApp;
  let doc: Document;

  beforeAll(async () => {
    t = await startTestApp();
    doc = (await t.http().get('/docs-json').expect(200)).body as Document;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('gives every operation a summary, a description and a 2xx response schema', () => {
    const lacking = operations(doc)
      .flatMap(({ name, op }) => [!op.summary && `${name}: no summary`, !op.description && `${name}: no description`, !hasSuccessSchema(op) && `${name}: no 2xx response schema`])
      .filter(Boolean);
    expect(lacking).toEqual([]);
  });

  it('documents 401 as problem+json on every authenticated operation', () => {
    const lacking = operations(doc)
      .filter(({ op }) => (op.security ?? []).length > 0)
      .filter(({ op }) => !op.responses?.['401']?.content?.['application/problem+json'])
      .map(({ name }) => name);
    expect(lacking).toEqual([]);
  });

  it('types rollout variants as objects', () => {
    const schemas = (doc as unknown as { components: { schemas: Record<string, { properties: Record<string, { items?: { $ref?: string } }> }> } }).components.schemas;
    expect(schemas['RolloutDto']?.properties['variants']?.items?.$ref).toBe('#/components/schemas/VariantRuleDto');
    expect(schemas['CreateRolloutDto']?.properties['variants']?.items?.$ref).toBe('#/components/schemas/VariantRuleDto');
  });

  // `npm run api:generate` runs this test with API_CLIENT_WRITE=1 to rewrite the file instead.
  it(`the checked-in client types (${API_SCHEMA_PATH}) are generated from this document`, async () => {
    const generated = await generateApiSchema(doc);
    if (process.env['API_CLIENT_WRITE'] === '1') await writeFile(API_SCHEMA_PATH, generated);
    const checkedIn = await readFile(API_SCHEMA_PATH, 'utf8').catch(() => '');
    expect(checkedIn === generated ? 'up to date' : 'stale: run `npm run api:generate` and commit the result').toBe('up to date');
  });
});
