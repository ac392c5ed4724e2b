#!/usr/bin/env node
/**
 * edgefleet: the operator's command line for an EdgeFleet control plane (docs/cli.md). Plain Node: it talks
 * to the REST API through the generated client (#api-client) and never loads Nest or TypeORM.
 */
import { Command, CommanderError } from 'commander';
import { registerLogin } from './commands/login.js';
import { registerModels } from './commands/models.js';
import { registerNodes, registerTokens } from './commands/nodes.js';
import { registerEvents } from './commands/events.js';
import { registerRollouts } from './commands/rollouts.js';
import { registerStats } from './commands/stats.js';
import { ExitCode, toCliError } from './exit-codes.js';

const EXIT_CODES_HELP = `
Exit status:
  0  ok
  1  the operation failed (refused upload, a rollout that halted, a server error)
  2  usage: wrong arguments or input (400)
  3  authentication: not logged in, a wrong or revoked key, a role too low (401, 403)
  4  not found (404)
  5  conflict with the current state (409)
  6  the control plane cannot be reached

Environment: EDGEFLEET_URL, EDGEFLEET_API_KEY (override the login), EDGEFLEET_CONFIG (config file path).

Examples:
  $ edgefleet login --url http://127.0.0.1:3000 --key "$ADMIN_API_KEY"
  $ edgefleet models push digits.onnx --name digits --version 1.3.0
  $ edgefleet rollouts create --name "digits 1.3" --model digits --version 1.3.0 --waves 10,100 --start --json | jq -r .id
  $ edgefleet rollouts watch <id>`;

function buildProgram(): Command {
  const program = new Command('edgefleet')
    .description('deploy AI models to edge-device fleets: nodes, models, rollouts')
    .option('--json', 'print JSON for scripts instead of tables')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .addHelpText('after', EXIT_CODES_HELP);
  registerLogin(program);
  registerNodes(program);
  registerTokens(program);
  registerModels(program);
  registerRollouts(program);
  registerStats(program);
  registerEvents(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    // --help and --version end as CommanderErrors with exit code 0; parse errors with 1: ours is 2.
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    const failure = toCliError(error);
    process.stderr.write(`error: ${failure.message}\n${failure.hint ? `  → ${failure.hint}\n` : ''}`);
    return failure.exitCode;
  }
}

process.exitCode = await main(process.argv);
