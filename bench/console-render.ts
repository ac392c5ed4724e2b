/**
 * The web console at fleet scale, in one run:
 *   1. Time to first render of the fleet page with NODES nodes in the database: from navigation to the
 *      counts showing NODES and the first page of rows drawn, in headless Chromium (Debian's), signed in,
 *      fresh context each round (nothing cached). Goal: <= 1000 ms.
 *      Baseline of the same run: the two API calls the page needs (summary + first page), timed from Node;
 *      the ratio is what the browser, the bundle and rendering add on top of the API.
 *   2. The built bundle (dist/console: index.html + assets), gzipped. Goal: <= 500 KB.
 *   npm run build && npm run bench:build && node dist/bench/console-render.js [nodes=10000] [rounds=7]
 */
import 'reflect-metadata';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { waitFor } from '../test/helpers/agent-process.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { createModel, uploadVersion } from '../test/helpers/fleet.js';
import { denseSoftmaxModel } from '../test/helpers/onnx-model.js';
import { bearer, startTestApp, type TestApp } from '../test/helpers/test-app.js';

const NODES = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** NODES nodes by one INSERT … generate_series, a third online, with labels; one deployment reaching 1,000 of them. */
async function seedFleet(t: TestApp): Promise<void> {
  await t.db.query(
    `INSERT INTO nodes (node_key, name, labels, hardware, status, last_seen_at)
     SELECT 'bench-' || i, 'node-' || lpad(i::text, 5, '0'),
            jsonb_build_object('site', 'site-' || (i % 20), 'tier', CASE WHEN i % 10 = 0 THEN 'canary' ELSE 'main' END),
            '{"arch":"arm64","cpuCores":4,"ramMb":4096,"freeDiskMb":20000,"engines":["onnxruntime"],"accelerators":[]}'::jsonb,
            CASE WHEN i % 3 = 0 THEN 'online'::node_status ELSE 'offline'::node_status END, now() - (i || ' seconds')::interval
     FROM generate_series(1, $1) AS i`,
    [NODES],
  );
  await createModel(t, 'bench', 16, 4);
  const version = await uploadVersion(t, 'bench', { version: '1.0.0' }, denseSoftmaxModel(1, 16, 4).bytes);
  // Written as a large deployment leaves its targets (publishing to 1,000 absent nodes is not the point).
  const [deployment] = (await t.db.query(`INSERT INTO deployments (model_version_id, chunk_size, created_by) VALUES ($1, 131072, 'bench') RETURNING id`, [version.id])) as { id: string }[];
  await t.db.query(
    `INSERT INTO deployment_targets (deployment_id, node_id, state)
     SELECT $1, id, CASE WHEN row_number() OVER () % 4 = 0 THEN 'failed'::deployment_state ELSE 'downloading'::deployment_state END
     FROM (SELECT id FROM nodes ORDER BY id LIMIT 1000) n`,
    [deployment?.id],
  );
}

async function apiBaseline(t: TestApp): Promise<number> {
  const start = performance.now();
  await Promise.all([
    fetch(`${t.url}/v1/nodes/summary?selector=`, { headers: bearer(t.adminKey) }).then((r) => r.json()),
    fetch(`${t.url}/v1/nodes?selector=&limit=50`, { headers: bearer(t.adminKey) }).then((r) => r.json()),
  ]);
  return performance.now() - start;
}

async function bundleGzipBytes(): Promise<{ raw: number; gzip: number }> {
  const dir = join(process.cwd(), 'dist', 'console');
  const files = ['index.html', ...(await readdir(join(dir, 'assets'))).map((f) => join('assets', f))];
  let raw = 0;
  let gzip = 0;
  for (const file of files) {
    const bytes = await readFile(join(dir, file));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { raw, gzip };
}

async function main(): Promise<void> {
  const t = await startTestApp({ LOG_LEVEL: 'silent' });
  const browser = await launchBrowser();
  try {
    await seedFleet(t);
    const renders: number[] = [];
    const apis: number[] = [];
    let breakdown: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      apis.push(await apiBaseline(t));
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      // Signed in as the console would be after the form: the key in this tab's sessionStorage.
      // Page-side code as strings: the bench compiles without the DOM library. Signed in as the console is
      // after its form (the key in this tab's sessionStorage); the moment the DOM first holds the counts and
      // a full page of rows is taken by a MutationObserver in the page (a poll would add its interval).
      await context.addInitScript(`sessionStorage.setItem('edgefleet.apiKey', ${JSON.stringify(t.adminKey)});
        new MutationObserver((_, observer) => {
          if (document.querySelector('[data-testid=count-total]')?.textContent === '${NODES}' && document.querySelectorAll('[data-testid=node-row]').length === 50) {
            window.renderedAt = performance.now();
            observer.disconnect();
          }
        }).observe(document, { subtree: true, childList: true, characterData: true });`);
      const page = await context.newPage();
      await page.goto(`${t.url}/`, { waitUntil: 'commit' });
      // Read by Runtime.evaluate (allowed by the console's CSP, unlike waitForFunction's string predicates).
      const ms = await waitFor(async () => (await page.evaluate('window.renderedAt ?? null')) as number | null, (v) => typeof v === 'number', 30_000, 'first render');
      renders.push(ms as number);
      if (round === ROUNDS - 1) breakdown = (await page.evaluate("performance.getEntriesByType('resource').map((e) => `${new URL(e.name).pathname.slice(0, 40)} ${e.startTime.toFixed(0)}–${e.responseEnd.toFixed(0)} ms`)")) as string[];
      await context.close();
    }
    const bundle = await bundleGzipBytes();
    console.log(`last load, resources from navigation start:\n  ${breakdown.join('\n  ')}`);
    const render = median(renders);
    const api = median(apis);
    console.log(`fleet page, ${NODES} nodes: first render median ${render.toFixed(0)} ms (max ${Math.max(...renders).toFixed(0)} ms over ${ROUNDS} fresh loads); goal <= 1000 ms: ${render <= 1000 ? 'met' : 'MISSED'}`);
    console.log(`baseline (same run): the page's two API calls from Node, median ${api.toFixed(0)} ms; render / API = ${(render / api).toFixed(1)}x`);
    console.log(`bundle: ${(bundle.raw / 1024).toFixed(1)} KB raw, ${(bundle.gzip / 1024).toFixed(1)} KB gzipped; goal <= 500 KB: ${bundle.gzip <= 500 * 1024 ? 'met' : 'MISSED'}`);
  } finally {
    await browser.close();
    await t.close();
  }
}

await main();
