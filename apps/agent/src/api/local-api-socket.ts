import { chmod, lstat, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect } from 'node:net';

/** The local API could not be set up as configured (socket or token file); `cause` says why. */
export class LocalApiSetupError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'LocalApiSetupError';
  }
}

/**
 * Listens on a Unix domain socket at `path` and gives it `mode` (connecting needs write permission,
 * so 0660 admits the agent's user and group). A socket left by an agent that crashed is replaced; a
 * socket another process still serves, or a path that is not a socket, is refused.
 */
export async function listenOnUnixSocket(server: Server, path: string, mode: number): Promise<void> {
  try {
    await removeStaleSocket(path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(path, mode);
  } catch (error) {
    server.close();
    throw new LocalApiSetupError(`cannot listen on the local API socket ${path} (${errorCode(error)})`, { cause: error });
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  const existing = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!existing) return;
  if (!existing.isSocket()) throw Object.assign(new Error(`${path} exists and is not a socket`), { code: 'EEXIST' });
  if (await isServed(path)) throw Object.assign(new Error(`another process serves ${path}`), { code: 'EADDRINUSE' });
  await rm(path, { force: true });
}

/** Whether something accepts connections on the socket (a stale one refuses them). */
function isServed(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? 'unknown error';
}
