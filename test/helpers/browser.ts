import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's chromium (scripts/ensure-deps.sh installs it); Playwright's own browser download is not used. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

// Quiet, reproducible headless Chromium: nothing phones home, no GPU, no sandbox (tests run as root in CI).
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const DESKTOP = { width: 1280, height: 800 };
export const TABLET = { width: 820, height: 1180 };

/** Playwright gives every launch a fresh temporary profile (user data dir), removed when it closes. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true, timeout: 60_000 });
}

/** A new tab in its own context (own sessionStorage) at the console's sign-in page. */
export async function openConsole(browser: Browser, url: string, viewport = DESKTOP): Promise<Page> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(url);
  return page;
}

/** Signs in through the form and waits for the signed-in header to show the key's role. */
export async function signIn(page: Page, apiKey: string, role: string): Promise<void> {
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('role').filter({ hasText: role }).waitFor();
}

/**
 * A screenshot of the viewport (small PNGs). Written under `.edgefleet/screenshots` (ignored), so a test
 * run leaves the tree clean; `SCREENSHOTS_DIR=docs/screenshots` refreshes the committed ones.
 */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  const dir = join(process.cwd(), process.env.SCREENSHOTS_DIR ?? join('.edgefleet', 'screenshots'));
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
}
