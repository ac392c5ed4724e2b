import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { waitFor } from '../../helpers/agent-process.js';
import { launchBrowser, openConsole, saveScreenshot, signIn, TABLET } from '../../helpers/browser.js';
import { createModel, enrolNodes, startRollout, uploadVersion } from '../../helpers/fleet.js';
import { denseSoftmaxModel } from '../../helpers/onnx-model.js';
import { bearer, createApiKey, startTestApp, type TestApp } from '../../helpers/test-app.js';

// Conditions are read through locators, never page.waitForFunction: the console's CSP (no eval) refuses
// the string predicates it would run, and function predicates would need DOM types in Node code.
const rowsAre = (page: Page, n: number) => waitFor(() => page.getByTestId('node-row').count(), (count) => count === n, 30_000, `${n} node rows`);

describe('the web console: serving, sign-in, the fleet page and roles, in a real browser', () => {
  let t: TestApp;
  let browser: Browser;
  let viewerKey: string;
  let rolloutId: string;

  beforeAll(async () => {
    t = await startTestApp();
    browser = await launchBrowser();
    viewerKey = await createApiKey(t, 'viewer');
    await enrolNodes(t, 3, { site: 'lyon', tier: 'edge' });
    await enrolNodes(t, 2, { site: 'oslo' });
    await createModel(t, 'digits', 16, 4);
    const version = await uploadVersion(t, 'digits', { version: '1.0.0' }, denseSoftmaxModel(3, 16, 4).bytes);
    rolloutId = await startRollout(t, { name: 'draft for roles', modelVersionId: version.id, selector: 'site=oslo' }, false);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('serves the console at / with a CSP, hashed assets cached for good, and leaves the API its problems', async () => {
    const index = await t.http().get('/').expect(200);
    expect(index.headers['content-type']).toContain('text/html');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index.text)?.[1];
    expect(asset).toBeDefined();
    const js = await t.http().get(asset as string).expect(200);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    // A console path the browser routes gets the shell; a missing asset and an API path do not.
    expect((await t.http().get('/rollouts/some-id').expect(200)).text).toBe(index.text);
    await t.http().get('/assets/gone-1234.js').expect(404);
    const api = await t.http().get('/v1/no-such-route').expect(404);
    expect(api.headers['content-type']).toContain('application/problem+json');
    await t.http().get('/v1/nodes').expect(401);
  });

  it('serves the API reference (/docs) under a CSP of its own that Swagger UI renders under without a violation', async () => {
    const html = await t.http().get('/docs').expect(200);
    const csp = html.headers['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(csp).toContain("frame-ancestors 'none'");
    // Its scripts are files under /docs/, covered too.
    expect((await t.http().get('/docs/swagger-ui-init.js').expect(200)).headers['content-security-policy']).toBe(csp);
    const page = await openConsole(browser, `${t.url}/docs`);
    const refused: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
    });
    page.on('pageerror', (error) => refused.push(error.message));
    await page.reload();
    // Rendered from the spec: an operation of the API and its bearer authorization button.
    await page.getByText('/v1/events/types').first().waitFor();
    await page.getByRole('button', { name: 'Authorize', exact: true }).waitFor();
    await page.getByText('/v1/events/types').first().click();
    await page.getByRole('button', { name: 'Try it out' }).first().waitFor();
    expect(refused).toEqual([]);
    await page.close();
  }, 60_000);

  it('refuses a wrong key with the problem, then signs in by keyboard and lists the enrolled nodes with their counts', async () => {
    const page = await openConsole(browser, t.url);
    await page.getByLabel('API key').fill('not-a-key-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Unauthorized');
    // By keyboard alone: the key field, then Enter submits the form.
    await page.getByLabel('API key').fill(t.adminKey);
    await page.getByLabel('API key').press('Enter');
    await page.getByTestId('role').filter({ hasText: 'admin' }).waitFor();
    await page.getByTestId('node-row').nth(4).waitFor();
    expect(await page.getByTestId('node-row').count()).toBe(5);
    expect(await page.getByTestId('count-total').textContent()).toBe('5');
    expect(await page.getByTestId('count-offline').textContent()).toBe('5');
    // The key stays in this tab's session: a reload keeps it signed in.
    await page.reload();
    await page.getByTestId('role').filter({ hasText: 'admin' }).waitFor();
    await page.close();
  }, 60_000);

  it('filters the fleet by label selector (counts and table), and pages with the cursor', async () => {
    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    await page.getByLabel('Label selector').fill('site=lyon,tier in (edge)');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByTestId('count-total').filter({ hasText: /^3$/ }).waitFor();
    await rowsAre(page, 3);
    expect(new URL(page.url()).searchParams.get('selector')).toBe('site=lyon,tier in (edge)');
    await saveScreenshot(page, 'console-fleet');
    // Keyset pages of 2 over all 5 nodes: Next twice, then back; no row shows on two pages.
    await page.goto(`${t.url}/?limit=2`);
    const names = async () => page.getByTestId('node-row').getByRole('link').allTextContents();
    await page.getByTestId('node-row').nth(1).waitFor();
    const first = await names();
    await page.getByRole('button', { name: 'Next' }).click();
    const second = await waitFor(names, (now) => now.length === 2 && now[0] !== first[0], 30_000, 'the second page');
    await page.getByRole('button', { name: 'Next' }).click();
    await rowsAre(page, 1);
    const third = await names();
    expect(new Set([...first, ...second, ...third]).size).toBe(5);
    expect(await page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous' }).click();
    await rowsAre(page, 2);
    expect(await names()).toEqual(second);
    await page.getByLabel('Label selector').fill('site in (lyon');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Bad Request');
    await page.close();
  }, 60_000);

  it('a viewer sees no mutation buttons, and the API refuses the mutation anyway', async () => {
    const page = await openConsole(browser, t.url, TABLET);
    await signIn(page, viewerKey, 'viewer');
    await page.getByRole('link', { name: 'Rollouts', exact: true }).click();
    await page.getByRole('link', { name: 'draft for roles' }).click();
    await page.getByTestId('rollout-state').filter({ hasText: 'draft' }).waitFor();
    expect(await page.getByRole('group', { name: 'Rollout actions' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Start' }).count()).toBe(0);
    await saveScreenshot(page, 'console-viewer-tablet');
    await page.getByRole('link', { name: 'Rollouts', exact: true }).click();
    await page.getByRole('heading', { name: /Rollouts/ }).waitFor();
    expect(await page.getByRole('link', { name: 'New rollout' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Models', exact: true }).click();
    await page.getByRole('link', { name: 'digits' }).click();
    await page.getByTestId('version-row').first().waitFor();
    expect(await page.getByRole('button', { name: 'Upload' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Fleet', exact: true }).click();
    await page.getByTestId('node-row').first().getByRole('link').click();
    await page.getByRole('heading', { name: 'Labels' }).waitFor();
    expect(await page.getByRole('button', { name: 'Save labels' }).count()).toBe(0);
    await page.close();
    await t.http().post(`/v1/rollouts/${rolloutId}/start`).set(bearer(viewerKey)).send({}).expect(403);
  }, 60_000);

  it('an operator sees the controls the state allows, and edits a node’s labels', async () => {
    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    await page.goto(`${t.url}/rollouts/${rolloutId}`);
    await page.getByRole('group', { name: 'Rollout actions' }).getByRole('button', { name: 'Start' }).waitFor();
    await page.goto(`${t.url}/?selector=site%3Doslo`);
    await page.getByTestId('node-row').first().getByRole('link').click();
    await page.getByLabel('Labels (one key=value per line)').fill('site=oslo\nrack=r7');
    await page.getByRole('button', { name: 'Save labels' }).click();
    // Saved and reloaded: the form shows the stored labels again, with nothing left to save.
    await page.getByRole('button', { name: 'Save labels', disabled: true }).waitFor();
    expect((await page.getByLabel('Labels (one key=value per line)').inputValue()).split('\n').sort()).toEqual(['rack=r7', 'site=oslo']);
    const id = new URL(page.url()).pathname.split('/').at(-1);
    expect((await t.http().get(`/v1/nodes/${id}`).set(bearer(t.adminKey)).expect(200)).body.labels).toEqual({ site: 'oslo', rack: 'r7' });
    await page.close();
  }, 60_000);
});
