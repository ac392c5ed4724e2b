import { execFile, spawn } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from './ports.js';

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';
/** initdb and postgres refuse to run as root: the cluster belongs to this user. */
const PG_USER = 'postgres';

/**
 * A real server of the test's own, on a free port of 127.0.0.1, that the test may take down: the shared
 * PostgreSQL and Redis serve other suites and must never be restarted. `pause()` stops it hard (no
 * graceful shutdown: what a crash or an OOM kill does), `resume()` starts it again on the same port
 * (and, for PostgreSQL, the same data directory, so it comes back through crash recovery).
 */
export interface OwnService {
  readonly url: string;
  readonly port: number;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A PostgreSQL 15 cluster in a temp directory (trust authentication on 127.0.0.1, like the shared one);
 * `url` names its `postgres` database. fsync is off for speed: a killed server loses nothing that way,
 * since committed WAL is already in the OS's page cache; synchronous_commit stays on, so a commit the
 * client saw is durable across `pause()`.
 */
export async function startOwnPostgres(): Promise<OwnService> {
  const dir = await mkdtemp(join(tmpdir(), 'ef-pg-'));
  if (runningAsRoot()) await chown(dir, ...(await pgOwner()));
  const data = join(dir, 'data');
  const port = await freePort();
  await asPostgres(`${PG_BIN}/initdb`, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100`;
  const start = () => asPostgres(`${PG_BIN}/pg_ctl`, ['start', '-w', '-t', '60', '-D', data, '-l', join(dir, 'log'), '-o', options]);
  // `-m immediate`: every server process quits at once, no checkpoint; the next start runs crash recovery.
  const halt = () => asPostgres(`${PG_BIN}/pg_ctl`, ['stop', '-w', '-t', '60', '-m', 'immediate', '-D', data]);
  await start();
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    pause: async () => {
      await halt();
      running = false;
    },
    resume: async () => {
      await start();
      running = true;
    },
    stop: async () => {
      if (running) await halt().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis without persistence: after `pause()` (SIGKILL) it comes back empty, as a restarted cache node does. */
export async function startOwnRedis(): Promise<OwnService> {
  const port = await freePort();
  let stderr = '';
  const launch = async () => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitForPort(port, child, () => stderr, { name: 'redis-server', tries: 200 });
    return child;
  };
  let child = await launch();
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pause: kill,
    resume: async () => {
      child = await launch();
    },
    stop: kill,
  };
}

const runningAsRoot = () => process.getuid?.() === 0;

async function pgOwner(): Promise<[number, number]> {
  const [uid, gid] = await Promise.all([run('id', ['-u', PG_USER]), run('id', ['-g', PG_USER])]);
  return [Number(uid.stdout.trim()), Number(gid.stdout.trim())];
}

async function asPostgres(binary: string, args: string[]): Promise<void> {
  // Not root (a CI runner's own user): initdb and postgres run as that user directly.
  const asRoot = runningAsRoot();
  await run(asRoot ? 'runuser' : binary, asRoot ? ['-u', PG_USER, '--', binary, ...args] : args, { timeout: 120_000 });
}
