/* global fetch */
// Screenshots of the web console on the demo fleet, for docs/screenshots/.
//   npm run demo -- --keep          (prints the console's address and the admin key)
//   node scripts/demo-screenshots.mjs http://127.0.0.1:PORT efk_… [docs/screenshots]
// Debian's chromium through playwright-core, as the browser tests run it.
import { chromium } from 'playwright-core';
import { join } from 'node:path';

const [url, key, out = 'docs/screenshots'] = process.argv.slice(2);
if (!url || !key) {
  console.error('usage: node scripts/demo-screenshots.mjs CONSOLE_URL ADMIN_KEY [OUT_DIR]');
  process.exit(2);
}
const api = async (path) => {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(url);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('role').waitFor();
  const shot = async (path, name, ready) => {
    await page.goto(`${url}${path}`);
    await ready();
    await page.screenshot({ path: join(out, `${name}.png`) });
    console.log(`${name}.png  ${path}`);
  };
  await shot('/', 'demo-fleet', () => page.getByTestId('node-row').first().waitFor());
  const rollouts = await api('/v1/rollouts?limit=1');
  const rollout = (rollouts.items ?? rollouts)[0];
  if (rollout) await shot(`/rollouts/${rollout.id}`, 'demo-rollout', () => page.getByTestId('timeline').waitFor());
  await shot('/models/digits', 'demo-model', async () => {
    await page.getByTestId('version-row').first().getByRole('button', { name: 'Show' }).click();
    await page.locator('.stats .charts').waitFor();
    await page.locator('.stats').scrollIntoViewIfNeeded();
  });
} finally {
  await browser.close();
}
