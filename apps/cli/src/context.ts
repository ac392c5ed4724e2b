import { type ApiClient, createApiClient } from '#api-client';
import type { Command } from 'commander';
import { resolveConfig } from './config.js';
import type { OutputOptions } from './output.js';

/** What every command gets: the API client (from login or the environment) and the output mode. */
export interface CommandContext {
  readonly api: ApiClient;
  readonly url: string;
  readonly apiKey: string;
  readonly output: OutputOptions;
}

/** The --json flag is global: read it from the root command whichever subcommand runs. */
export function outputOptions(command: Command): OutputOptions {
  let root = command;
  while (root.parent) root = root.parent;
  return { json: Boolean(root.opts<{ json?: boolean }>().json) };
}

export async function commandContext(command: Command): Promise<CommandContext> {
  const config = await resolveConfig();
  return { api: createApiClient({ baseUrl: config.url, apiKey: config.apiKey }), url: config.url, apiKey: config.apiKey, output: outputOptions(command) };
}
