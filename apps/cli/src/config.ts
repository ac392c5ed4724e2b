import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, ExitCode } from './exit-codes.js';

export interface CliConfig {
  readonly url: string;
  readonly apiKey: string;
}

/** $EDGEFLEET_CONFIG, else ~/.config/edgefleet/config.json (XDG_CONFIG_HOME honoured). */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env['EDGEFLEET_CONFIG']) return env['EDGEFLEET_CONFIG'];
  return join(env['XDG_CONFIG_HOME'] || join(homedir(), '.config'), 'edgefleet', 'config.json');
}

async function readStored(path: string): Promise<Partial<CliConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${path}`, ExitCode.failed, undefined, { cause: error });
  }
  try {
    const parsed = JSON.parse(text) as Partial<CliConfig>;
    return { url: typeof parsed.url === 'string' ? parsed.url : undefined, apiKey: typeof parsed.apiKey === 'string' ? parsed.apiKey : undefined };
  } catch (error) {
    throw new CliError(`${path} is not valid JSON`, ExitCode.usage, 'run `edgefleet login` again to rewrite it', { cause: error });
  }
}

/**
 * Refuses a URL fetch could not use (`notaurl` would fail later as "Failed to parse URL from notaurl/v1/…"),
 * naming where it came from.
 */
export function checkUrl(url: string, source: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new CliError(`${source} '${url.slice(0, 200)}' is not an http(s) URL`, ExitCode.usage, "give the control plane's base URL, e.g. http://127.0.0.1:3000");
  }
  return url;
}

/** The URL and key to use: EDGEFLEET_URL / EDGEFLEET_API_KEY override what `login` stored. */
export async function resolveConfig(env: NodeJS.ProcessEnv = process.env): Promise<CliConfig> {
  const stored = await readStored(configPath(env));
  const url = env['EDGEFLEET_URL'] || stored.url;
  const apiKey = env['EDGEFLEET_API_KEY'] || stored.apiKey;
  if (!url || !apiKey) throw new CliError('not logged in', ExitCode.auth, 'run `edgefleet login --url URL --key KEY`, or set EDGEFLEET_URL and EDGEFLEET_API_KEY');
  return { url: checkUrl(url, env['EDGEFLEET_URL'] ? 'EDGEFLEET_URL' : `the URL stored in ${configPath(env)}`), apiKey };
}

/**
 * Writes the config readable by its owner only (0600, directory 0700): it holds an API key. Written to a
 * temporary file with that mode and renamed, so the key is never readable by others, even briefly.
 */
export async function saveConfig(config: CliConfig, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const path = configPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600); // the umask can only remove bits; this states the mode whatever it is
  await rename(temp, path);
  return path;
}
