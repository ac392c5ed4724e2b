/**
 * The route fuzzer of test/integration/route-fuzz.int.test.ts, repeated: every operation of /docs-json
 * driven with wrong ids, types, depths, sizes, content types, truncated bodies and wrong states.
 *   npm run bench:build && node dist/bench/route-fuzz.js [rounds=3]
 * Prints the count of 5xx answers out of all requests (target 0), refusals that were not problem+json,
 * and whether the control plane still served at the end; exits 1 on any of them.
 */
import 'reflect-metadata';
import type { OpenApiDocument } from '../test/helpers/openapi.js';
import { fuzzCases, runFuzz, verdictOf } from '../test/helpers/route-fuzz.js';
import { seedFuzzState } from '../test/helpers/route-fuzz-seed.js';
import { startTestApp } from '../test/helpers/test-app.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const t = await startTestApp();
try {
  const doc = (await t.http().get('/docs-json').expect(200)).body as OpenApiDocument;
  let requests = 0;
  let serverErrors = 0;
  let accepted = 0;
  const violations: string[] = [];
  const started = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    // Fresh objects each round (the previous round revoked, decommissioned and aborted its own).
    const results = await runFuzz(t.url, fuzzCases(doc, await seedFuzzState(t, `r${round}`)));
    requests += results.length;
    for (const r of results) {
      if (r.answer && r.answer.status >= 500) serverErrors++;
      if (r.answer && r.answer.status < 300) accepted++;
      const verdict = verdictOf(r);
      if (verdict) violations.push(`${r.fuzzCase.method} ${r.fuzzCase.path.slice(0, 80)} [${r.fuzzCase.label}] → ${verdict}`);
    }
  }
  const alive = (await t.http().get('/health')).status === 200;
  console.log(`route fuzz: ${requests} requests in ${((Date.now() - started) / 1000).toFixed(1)} s over ${ROUNDS} round(s)`);
  console.log(`5xx: ${serverErrors} of ${requests} (2xx: ${accepted}, the rest refused with 4xx or cut by the client)`);
  console.log(`contract violations (5xx, refusals not problem+json, no answer): ${violations.length}${violations.length ? `\n  ${violations.slice(0, 50).join('\n  ')}` : ''}`);
  console.log(`control plane still serving: ${alive ? 'yes' : 'NO'}`);
  process.exitCode = violations.length === 0 && alive ? 0 : 1;
} finally {
  await t.close();
}
