import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../helpers/agent-process.js';
import type { OpenApiDocument } from '../helpers/openapi.js';
import { fuzzCases, runFuzz, verdictOf } from '../helpers/route-fuzz.js';
import { seedFuzzState } from '../helpers/route-fuzz-seed.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Every operation of /docs-json driven with wrong ids, types, depths, sizes, content types, truncated
 * bodies and calls in wrong states (issue 10, trap 8): no answer may be a 5xx, every refusal must be
 * problem+json, and the control plane must still serve at the end.
 */
describe('route fuzzer over /docs-json', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers every request below 500, refusals as problem+json, and keeps serving', async () => {
    const doc = (await t.http().get('/docs-json').expect(200)).body as OpenApiDocument;
    const ctx = await seedFuzzState(t);
    const cases = fuzzCases(doc, ctx);
    expect(cases.length).toBeGreaterThan(500);
    const results = await runFuzz(t.url, cases);

    const failures = results.flatMap((r) => {
      const verdict = verdictOf(r);
      return verdict ? [`${r.fuzzCase.method} ${r.fuzzCase.path.slice(0, 80)} [${r.fuzzCase.label}] → ${verdict}`] : [];
    });
    expect(failures).toEqual([]);
    // Every operation was reached (and not only refused at the door).
    const statuses = new Set(results.map((r) => r.answer?.status));
    expect(statuses.has(200) || statuses.has(201)).toBe(true);
    await t.http().get('/health').expect(200);
    // Refused and cut uploads leave nothing behind in the artifact store.
    const tempFiles = () => readdir(join(t.config.artifacts.dir, 'tmp')).catch(() => [] as string[]);
    await waitFor(tempFiles, (files) => files.length === 0, 10_000, 'no temporary upload files left');
  }, 300_000); // a bound for a loaded 2-core machine (hundreds of requests), not a speed assertion
});
