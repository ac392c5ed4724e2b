import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = join(process.cwd(), 'dist/apps/cli/src/main.js');
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * What the built CLI says about bad arguments, URLs and web pages: none of these cases reaches a control
 * plane, so none is started (the one web server below stands for the console or any other site).
 */
describe('the edgefleet CLI on wrong input', () => {
  let home: string;
  let webPage: Server;
  let webUrl: string;

  const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { PATH: process.env['PATH'] ?? '', HOME: home, EDGEFLEET_CONFIG: join(home, 'config.json'), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'ef-cli-usage-'));
    // A single-page app answers every path with its HTML, as the console does.
    webPage = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>EdgeFleet</title>'));
    await new Promise<void>((resolve) => webPage.listen(0, '127.0.0.1', resolve));
    webUrl = `http://127.0.0.1:${(webPage.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => webPage?.close(resolve));
    if (home) await rm(home, { recursive: true, force: true });
  });

  it.each([
    [['models', 'results-policy', 'digits', 'sample:2'], 'sample:2'],
    [['models', 'results-policy', 'digits', 'bogus'], 'bogus'],
    [['models', 'results-policy', 'digits', 'sample'], 'sample'],
    [['rollouts', 'results-policy', '00000000-0000-4000-8000-000000000000', 'bogus'], 'bogus'],
    [['nodes', 'label', UNKNOWN_ID, 'novalue'], 'novalue'],
    [['tokens', 'create', '--name', 'batch', '--label', 'bad'], 'bad'],
  ])('%j exits 2 naming the bad value, before asking for a login', async (args, bad) => {
    const run = await cli(args);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 2, stderr: expect.stringContaining(`error: '${bad}' is not`) });
    expect(run.stderr).toContain('--help');
  });

  it('an EDGEFLEET_URL that is not a URL exits 2 with a hint, not a fetch failure', async () => {
    const run = await cli(['models', 'ls'], { EDGEFLEET_URL: 'notaurl', EDGEFLEET_API_KEY: 'k' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("EDGEFLEET_URL 'notaurl' is not an http(s) URL");
    expect(run.stderr).toContain('http://127.0.0.1:3000');
    expect(run.stderr).not.toContain('Failed to parse URL');
  });

  it('login to a web page (the console) says so and asks for the base URL, storing nothing', async () => {
    const run = await cli(['login', '--url', `${webUrl}/console`, '--key', 'wrong']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('text/html');
    expect(run.stderr).toContain("this is a web page, give the control plane's base URL");
    expect(run.stderr).not.toContain('JSON at position');
    expect((await cli(['nodes', 'ls'])).stderr).toContain('not logged in');
  });
});
