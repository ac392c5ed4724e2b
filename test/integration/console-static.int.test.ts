import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

/** Express matches routes case-insensitively: the console must step aside for any casing of an API path. */
describe('console static files beside the API', () => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-console-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    t = await startTestApp({ CONSOLE_DIR: dir });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the console shell for a console route', async () => {
    const res = await t.http().get('/rollouts/some-id').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
  });

  it.each(['/V1/whoami', '/v1/WHOAMI', '/Health', '/METRICS', '/V1/no-such-route', '/Docs-Json'])('never answers %s with the console HTML', async (path) => {
    const res = await t.http().get(path).set(bearer(t.adminKey));
    expect(res.headers['content-type'] ?? '').not.toMatch(/text\/html/);
    expect(res.text).not.toContain('<title>console</title>');
  });

  it('answers /V1/whoami from the API, as /v1/whoami', async () => {
    const res = await t.http().get('/V1/whoami').set(bearer(t.adminKey)).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });
});
