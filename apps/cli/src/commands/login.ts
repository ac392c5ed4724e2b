import { createApiClient, unwrap } from '#api-client';
import type { Command } from 'commander';
import { saveConfig } from '../config.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { outputOptions } from '../context.js';
import { printJson } from '../output.js';

interface LoginOptions {
  url?: string;
  key?: string;
}

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('check a control plane URL and API key, and store them (0600) for the next commands')
    .option('--url <url>', 'control plane URL (default: $EDGEFLEET_URL)')
    .option('--key <key>', 'API key (default: $EDGEFLEET_API_KEY; prefer the variable: arguments show in `ps`)')
    .addHelpText('after', '\nExamples:\n  $ EDGEFLEET_API_KEY=… edgefleet login --url https://fleet.example.com\n  $ edgefleet login --url http://127.0.0.1:3000 --key "$ADMIN_API_KEY"')
    .action(async (options: LoginOptions, command: Command) => {
      const url = options.url ?? process.env['EDGEFLEET_URL'];
      const apiKey = options.key ?? process.env['EDGEFLEET_API_KEY'];
      if (!url || !apiKey) throw new CliError('login needs a URL and a key', ExitCode.usage, 'pass --url and --key, or set EDGEFLEET_URL and EDGEFLEET_API_KEY');
      if (!/^https?:\/\//.test(url)) throw new CliError(`'${url}' is not an http(s) URL`, ExitCode.usage);
      // Any read proves the key: viewer is the lowest role.
      unwrap(await createApiClient({ baseUrl: url, apiKey }).GET('/v1/models'));
      const path = await saveConfig({ url, apiKey });
      if (outputOptions(command).json) printJson({ url, config: path });
      else process.stdout.write(`logged in to ${url} (saved in ${path}, mode 0600)\n`);
    });
}
