import { createApiClient, unwrap } from '#api-client';
import type { Command } from 'commander';
import { checkUrl, saveConfig } from '../config.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { outputOptions } from '../context.js';
import { printJson } from '../output.js';

interface LoginOptions {
  url?: string;
  key?: string;
}

const BASE_URL_HINT = "this is a web page, give the control plane's base URL (e.g. http://host:3000)";

/**
 * The client adds `/v1/…` itself, so a URL copied from an API path (`…/v1`) would ask for `/v1/v1/…`:
 * take the trailing `/v1` (and slashes) off, and say so.
 */
export function baseUrl(url: string): { url: string; stripped: boolean } {
  const trimmed = url.replace(/\/+$/, '');
  const base = trimmed.replace(/\/v1$/, '');
  return { url: base, stripped: base !== trimmed };
}

/**
 * A fetch that refuses any answer that is not JSON: a URL pointing at the console or another web server
 * answers HTML, which the client would otherwise fail to parse ("Unexpected token '<'").
 */
function jsonOnlyFetch(url: string): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const type = response.headers.get('content-type') ?? '';
    if (!/[/+]json\b/i.test(type)) {
      await response.body?.cancel();
      throw new CliError(`${url} answered ${response.status} with ${type.split(';')[0] || 'no content type'}, not the API's JSON`, ExitCode.usage, BASE_URL_HINT);
    }
    return response;
  };
}

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('check a control plane URL and API key, and store them (0600) for the next commands')
    .option('--url <url>', 'control plane URL (default: $EDGEFLEET_URL)')
    .option('--key <key>', 'API key (default: $EDGEFLEET_API_KEY; prefer the variable: arguments show in `ps`)')
    .addHelpText('after', '\nExamples:\n  $ EDGEFLEET_API_KEY=… edgefleet login --url https://fleet.example.com\n  $ edgefleet login --url http://127.0.0.1:3000 --key "$ADMIN_API_KEY"')
    .action(async (options: LoginOptions, command: Command) => {
      const given = options.url ?? process.env['EDGEFLEET_URL'];
      const apiKey = options.key ?? process.env['EDGEFLEET_API_KEY'];
      if (!given || !apiKey) throw new CliError('login needs a URL and a key', ExitCode.usage, 'pass --url and --key, or set EDGEFLEET_URL and EDGEFLEET_API_KEY');
      const { url, stripped } = baseUrl(checkUrl(given, options.url ? '--url' : 'EDGEFLEET_URL'));
      if (stripped) process.stderr.write(`using ${url}: the base URL, without the trailing /v1 (the CLI adds it)\n`);
      // whoami proves the key for any role, without side effects, and names the role.
      const me = unwrap(await createApiClient({ baseUrl: url, apiKey, fetch: jsonOnlyFetch(url) }).GET('/v1/whoami'));
      const path = await saveConfig({ url, apiKey });
      if (outputOptions(command).json) printJson({ url, role: me.role, config: path });
      else process.stdout.write(`logged in to ${url} as ${me.role} (saved in ${path}, mode 0600)\n`);
    });
}
