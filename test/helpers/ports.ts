import type { ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** Ports this process has handed out: a paused server's port stays its own until the suite ends. */
const handedOut = new Set<number>();

/**
 * A TCP port free on 127.0.0.1 right now (the OS picks it; a test server then listens on it), never one
 * this process handed out before: two servers started at once (Redis and Mosquitto of one suite) must
 * not be given the same port, or the loser's waitForPort may see the winner listening and pass.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * Waits (bounded: `tries` × 50 ms) until `child`, a server process named `name`, accepts connections on
 * `port`; fails at once, with its stderr, if it exits first.
 */
export async function waitForPort(port: number, child: ChildProcess, stderr: () => string, { name, tries }: { name: string; tries: number }): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not listen on ${port}: ${stderr()}`);
}
