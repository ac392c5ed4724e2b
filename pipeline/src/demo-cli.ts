import { spawn } from 'node:child_process';

const CLI = 'dist/apps/cli/src/main.js';

/**
 * Runs the `edgefleet` CLI as a user would type it, echoing the command line; its stderr (progress bars,
 * the rollout watch) goes to the terminal. `EDGEFLEET_CONFIG` points at the demo's own login file, never
 * the user's ~/.config/edgefleet.
 */
export function edgefleetCli(configPath: string) {
  return async function edgefleet(args: string[], env: Record<string, string> = {}): Promise<string> {
    const shownEnv = Object.keys(env).map((name) => `${name}=… `).join('');
    console.log(`  $ ${shownEnv}edgefleet ${args.map(quote).join(' ')}`);
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, EDGEFLEET_CONFIG: configPath }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`edgefleet ${args[0]} ${args[1] ?? ''} exited ${code}`);
    return stdout;
  };
}

/** Shell quoting for the echoed command line only (the CLI gets the arguments as they are). */
function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
