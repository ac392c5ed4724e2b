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

/** `printed` is set when commander writes an error itself, so main() reports only what it has not. */
function buildProgram(seen: { printed: boolean }): Command {
  const program = new Command('edgefleet')
    .description('deploy AI models to edge-device fleets: nodes, models, rollouts')
    .option('--json', 'print JSON for scripts instead of tables')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => {
        seen.printed = true;
        write(text);
      },
    })
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

/**
 * --help and --version end as CommanderErrors with exit code 0; parse errors with 1: ours is 2. Commander
 * prints its own parse errors, but not an InvalidArgumentError thrown inside an action (a label or a
 * policy checked there): that one is printed here, or the CLI would exit 2 without a word.
 */
/** Commander ends with these after writing help (a group without a subcommand exits 1 with its help). */
const HELP_CODES = new Set(['commander.help', 'commander.helpDisplayed', 'commander.version']);

function reportCommanderError(error: CommanderError, printed: boolean): number {
  if (error.exitCode === 0) return ExitCode.ok;
  if (!printed && !HELP_CODES.has(error.code)) process.stderr.write(`${error.message.startsWith('error:') ? '' : 'error: '}${error.message}\n  → see the command's --help for its arguments\n`);
  return ExitCode.usage;
}

async function main(argv: string[]): Promise<number> {
  const seen = { printed: false };
  try {
    await buildProgram(seen).parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) return reportCommanderError(error, seen.printed);
    const failure = toCliError(error);
    process.stderr.write(`error: ${failure.message}\n${failure.hint ? `  → ${failure.hint}\n` : ''}`);
    return failure.exitCode;
  }
}

process.exitCode = await main(process.argv);
