import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bucketUpperBound, latencyBucket } from '#protocol';
import type { Browser, Locator } from 'playwright-core';
import { waitFor } from '../../helpers/agent-process.js';
import { launchBrowser, openConsole, saveScreenshot, signIn, TABLET } from '../../helpers/browser.js';
import { createModel, enrolNodes, startRollout, uploadVersion, waitForRolloutState } from '../../helpers/fleet.js';
import { denseSoftmaxModel } from '../../helpers/onnx-model.js';
import { SimulatedFleet } from '../../helpers/simulated-fleet.js';
import { startTestBroker, type TestBroker } from '../../helpers/test-broker.js';
import { bearer, createApiKey, startTestApp, type TestApp } from '../../helpers/test-app.js';

const INPUTS = 16;
const CLASSES = 4;

// Read attribute by attribute, not with evaluateAll: nothing is run in the page (its CSP has no eval).
const hrefs = async (links: Locator): Promise<(string | null)[]> => Promise.all((await links.all()).map((l) => l.getAttribute('href')));

describe('the web console’s forms and views: new model, variant rules, gate charts, events by node', () => {
  let broker: TestBroker;
  let t: TestApp;
  let browser: Browser;
  let viewerKey: string;
  let fleet: SimulatedFleet | undefined;
  let beating: ReturnType<typeof setInterval> | undefined;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    browser = await launchBrowser();
    viewerKey = await createApiKey(t, 'viewer');
  }, 90_000);

  afterAll(async () => {
    if (beating) clearInterval(beating);
    await fleet?.stop();
    await browser?.close();
    await t?.close();
    await broker?.stop();
  });

  it('creates a model from the Models page, showing the server’s field violations by their inputs; a viewer has no form', async () => {
    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    await page.getByRole('link', { name: 'Models', exact: true }).click();
    await page.getByLabel('Name', { exact: true }).fill('Digits CNN');
    await page.getByLabel('Task').fill('classification');
    await page.getByLabel('Input shape').fill('1, x');
    await page.getByLabel('Output shape').fill('1, 4');
    await page.getByRole('button', { name: 'Create model' }).click();
    // The shape is the form's to refuse; nothing was sent.
    await page.getByTestId('error-inputShape').filter({ hasText: 'input shape must be' }).waitFor();
    await page.getByLabel('Input shape').fill('1, 16');
    await page.getByRole('button', { name: 'Create model' }).click();
    // The name is the control plane's: its 400 problem names the field, shown under it and announced.
    await page.getByTestId('error-name').filter({ hasText: 'lowercase letters, digits and dashes' }).waitFor();
    expect(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Bad Request');
    await saveScreenshot(page, 'console-new-model-invalid');
    await page.getByLabel('Name', { exact: true }).fill('digits-cnn');
    await page.getByLabel('Class labels').fill('zero, one, two, three');
    await page.getByRole('button', { name: 'Create model' }).click();
    await page.waitForURL(/\/models\/digits-cnn$/);
    await page.getByRole('heading', { name: 'digits-cnn' }).waitFor();
    const stored = (await t.http().get('/v1/models/digits-cnn').set(bearer(t.adminKey)).expect(200)).body as Record<string, unknown>;
    expect(stored).toMatchObject({
      task: 'classification',
      inputSpec: { name: 'input', shape: [1, 16], dtype: 'float32' },
      outputSpec: { name: 'probabilities', shape: [1, 4], dtype: 'float32' },
      classLabels: ['zero', 'one', 'two', 'three'],
    });
    // The same name again: a 409, its detail shown.
    await page.goto(`${t.url}/models`);
    await page.getByLabel('Name', { exact: true }).fill('digits-cnn');
    await page.getByLabel('Input shape').fill('1, 16');
    await page.getByLabel('Output shape').fill('1, 4');
    await page.getByRole('button', { name: 'Create model' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain("model 'digits-cnn' already exists");
    await page.close();

    const viewer = await openConsole(browser, t.url, TABLET);
    await signIn(viewer, viewerKey, 'viewer');
    await viewer.getByRole('link', { name: 'Models', exact: true }).click();
    await viewer.getByRole('link', { name: 'digits-cnn' }).waitFor();
    expect(await viewer.getByRole('button', { name: 'Create model' }).count()).toBe(0);
    expect(await viewer.getByRole('heading', { name: 'New model' }).count()).toBe(0);
    await viewer.close();
  }, 90_000);

  it('plans a rollout with variant rules (int8 to power=low, fp32 to the rest): the dry run shows each variant and the bytes of each wave', async () => {
    await createModel(t, 'digits', INPUTS, CLASSES);
    // Different sizes, so a wave's bytes say which variants it carries.
    const int8 = await uploadVersion(t, 'digits', { version: '1.0.0', variant: 'int8' }, denseSoftmaxModel(1, INPUTS, CLASSES).bytes);
    await uploadVersion(t, 'digits', { version: '1.0.0', variant: 'fp32' }, denseSoftmaxModel(2, INPUTS, CLASSES, { padBytes: 4096 }).bytes);
    await enrolNodes(t, 2, { suite: 'variants', power: 'low' });
    await enrolNodes(t, 2, { suite: 'variants', power: 'mains' });
    const versions = (await t.http().get('/v1/models/digits/versions').set(bearer(t.adminKey)).expect(200)).body as { id: string; variant: string; sizeBytes: number }[];
    const size = (variant: string) => versions.find((v) => v.variant === variant)?.sizeBytes ?? NaN;
    expect(size('fp32')).toBeGreaterThan(size('int8'));

    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    await page.goto(`${t.url}/rollouts/new`);
    await page.getByLabel('Name').fill('digits by power');
    await page.getByLabel('Version', { exact: true }).selectOption({ label: 'digits 1.0.0 (int8, onnx)' });
    await page.getByLabel('Nodes matching', { exact: true }).fill('power=low');
    await page.getByRole('button', { name: 'Add variant rule' }).click();
    await page.getByLabel('Version (rule 2)').selectOption({ label: 'digits 1.0.0 (fp32, onnx)' });
    await page.getByLabel('Label selector').fill('suite=variants');
    await page.getByLabel('Waves (cumulative %)').fill('50, 100');
    await page.getByRole('button', { name: 'Dry run' }).click();
    const dryRun = page.getByTestId('dry-run');
    await dryRun.getByText(/4 nodes in 2 waves \(2 \/ 2\)/).waitFor();
    for (const variant of ['int8', 'fp32']) {
      const cells = await dryRun.getByTestId(`plan-variant-${variant}`).locator('td').allTextContents();
      expect(cells.slice(0, 4)).toEqual(['1.0.0', variant, 'onnxruntime', '2']);
      expect(Number(await dryRun.getByTestId(`plan-variant-${variant}`).locator('td').nth(5).getAttribute('data-bytes'))).toBe(2 * size(variant));
    }
    // Per wave: the variants it carries and their bytes, adding up to the whole rollout.
    let total = 0;
    for (const wave of [1, 2]) {
      const row = dryRun.getByTestId(`plan-wave-${wave}`);
      const [, nodes, carried] = await row.locator('td').allTextContents();
      expect(nodes).toBe('2');
      const count = (variant: string) => Number(new RegExp(`\\(${variant}\\) × (\\d+)`).exec(carried ?? '')?.[1] ?? 0);
      expect(count('int8') + count('fp32')).toBe(2);
      const bytes = Number(await row.locator('td').nth(3).getAttribute('data-bytes'));
      expect(bytes).toBe(count('int8') * size('int8') + count('fp32') * size('fp32'));
      total += bytes;
    }
    expect(total).toBe(2 * size('int8') + 2 * size('fp32'));
    await dryRun.scrollIntoViewIfNeeded();
    await saveScreenshot(page, 'console-dry-run-variants');
    // Created from the same form: the rollout carries the rules in order.
    await page.getByRole('button', { name: 'Create and start' }).click();
    await page.waitForURL(/\/rollouts\/[0-9a-f-]{36}$/);
    const id = new URL(page.url()).pathname.split('/').at(-1) ?? '';
    const created = (await t.http().get(`/v1/rollouts/${id}`).set(bearer(t.adminKey)).expect(200)).body as { variants: unknown[] };
    expect(created.variants).toEqual([{ modelVersionId: int8.id, match: { selector: 'power=low' } }, { modelVersionId: versions.find((v) => v.variant === 'fp32')?.id }]);
    await t.http().post(`/v1/rollouts/${id}/abort`).set(bearer(t.adminKey)).send({ reason: 'planned only' }).expect(200);
    await page.close();
  }, 90_000);

  it('charts canary vs control live on the rollout page and lists the gate verdict that halted it', async () => {
    const ids = await enrolNodes(t, 4, { suite: 'gates' });
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids);
    const v1 = await uploadVersion(t, 'digits', { version: '2.0.0' }, denseSoftmaxModel(3, INPUTS, CLASSES).bytes);
    const v2 = await uploadVersion(t, 'digits', { version: '2.1.0' }, denseSoftmaxModel(4, INPUTS, CLASSES).bytes);
    await waitForRolloutState(t, await startRollout(t, { modelVersionId: v1.id, selector: 'suite=gates' }), ['completed']);
    const strategy = { waves: { percentages: [50, 100] }, bakeSeconds: 600, healthGates: { windowSeconds: 30, minSamples: 100, maxLatencyP99Ratio: 2 } };
    const id = await startRollout(t, { name: 'slow canary', modelVersionId: v2.id, selector: 'suite=gates', strategy }, false);
    // The canary (2.1.0) answers in 80 ms, the control in 10 ms: the latency gate fails at 8×.
    beating = setInterval(() => void fleet?.heartbeatWithHistogram((_n, model) => ({ latenciesMs: new Array<number>(200).fill(model?.version === '2.1.0' ? 80 : 10) })).catch(() => undefined), 300);

    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    await page.goto(`${t.url}/rollouts/${id}`);
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    await page.getByText('No gate verdict yet.').waitFor();
    await page.getByRole('group', { name: 'Rollout actions' }).getByRole('button', { name: 'Start' }).click();
    // No reload from here: the halt and the verdict arrive on the stream, and the charts are redrawn with them.
    await page.getByTestId('rollout-state').filter({ hasText: /^halted$/ }).waitFor({ timeout: 60_000 });
    const verdict = page.getByTestId('gate-verdict').first();
    await verdict.filter({ hasText: 'fail' }).waitFor();
    expect(await verdict.textContent()).toMatch(/wave 1: fail latency gate: canary p99/);
    const charts = page.getByTestId('canary-control-charts');
    expect(await charts.locator('canvas').count()).toBe(4);
    const latency = charts.getByRole('figure', { name: 'p99 latency (ms)' }).locator('figcaption');
    const caption = await waitFor(() => latency.textContent(), (text) => /canary [\d.]+ · control [\d.]+/.test(text ?? ''), 30_000, 'latency caption with both sides');
    const [, canary, control] = /canary ([\d.]+) · control ([\d.]+)/.exec(caption ?? '') ?? [];
    expect(Number(canary)).toBeCloseTo(bucketUpperBound(latencyBucket(80)), 3);
    expect(Number(control)).toBeCloseTo(bucketUpperBound(latencyBucket(10)), 3);
    await charts.scrollIntoViewIfNeeded();
    await saveScreenshot(page, 'console-rollout-gates');
    clearInterval(beating);

    // The rollout's events, from its page's link: the verdict and the halt, nothing about other rollouts.
    await page.getByRole('link', { name: 'Events of this rollout' }).click();
    await page.waitForURL((url) => url.pathname === '/events' && url.searchParams.get('rollout') === id);
    const feed = page.getByTestId('event-feed');
    await feed.getByText('rollout.halted').waitFor();
    await feed.getByText('rollout.gate-verdict').waitFor();
    const rollouts = await hrefs(feed.getByRole('link', { name: 'rollout' }));
    expect(new Set(rollouts)).toEqual(new Set([`/rollouts/${id}`]));
    await page.close();
  }, 150_000);

  it('filters the events page by node, in the URL: a link, the field, back and forward agree', async () => {
    const [a, b] = await enrolNodes(t, 2, { suite: 'events' });
    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    const nodeLinks = () => hrefs(page.getByTestId('event-feed').getByRole('link', { name: 'node' }));
    await page.goto(`${t.url}/events?node=${a}`);
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    await page.getByTestId('event').first().waitFor();
    expect(new Set(await nodeLinks())).toEqual(new Set([`/nodes/${a}`]));
    expect(await page.getByLabel('Node id').inputValue()).toBe(a);
    // Typed into the field: the URL follows, and so does the feed.
    await page.getByLabel('Node id').fill(b ?? '');
    await page.waitForURL((url) => url.searchParams.get('node') === b);
    await waitFor(nodeLinks, (hrefs) => hrefs.length > 0 && hrefs.every((h) => h === `/nodes/${b}`), 30_000, 'only node b');
    await page.getByLabel('node.enrolled').check();
    await page.waitForURL((url) => url.searchParams.get('type') === 'node.enrolled' && url.searchParams.get('node') === b);
    await page.getByTestId('event').filter({ hasText: 'node.enrolled' }).first().waitFor();
    expect(await page.getByTestId('event').count()).toBe(1);
    await saveScreenshot(page, 'console-events-by-node');
    // Back twice: node a again, in the field and in the feed.
    await page.goBack();
    await page.goBack();
    await page.waitForURL((url) => url.searchParams.get('node') === a && !url.searchParams.has('type'));
    await waitFor(() => page.getByLabel('Node id').inputValue(), (v) => v === a, 10_000, 'the field shows node a');
    await waitFor(nodeLinks, (hrefs) => hrefs.length > 0 && hrefs.every((h) => h === `/nodes/${a}`), 30_000, 'only node a');
    // Not a UUID (yet): said so, the filter stays.
    await page.getByLabel('Node id').fill('0b5c');
    await page.getByText('not a node id yet').waitFor();
    expect(new URL(page.url()).searchParams.get('node')).toBe(a);
    // From the whole feed, "only this node" narrows to it.
    await page.goto(`${t.url}/events?type=node.enrolled`);
    await page.getByTestId('event').nth(1).waitFor();
    const first = page.getByTestId('event').first();
    const href = await first.getByRole('link', { name: 'node' }).getAttribute('href');
    await first.getByRole('button', { name: 'only this node' }).click();
    await page.waitForURL((url) => url.searchParams.get('node') === href?.split('/').at(-1) && url.searchParams.get('type') === 'node.enrolled');
    await waitFor(() => page.getByTestId('event').count(), (n) => n === 1, 30_000, 'one enrolment');
    await page.close();
  }, 90_000);
});
