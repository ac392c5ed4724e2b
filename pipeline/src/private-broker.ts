import { connect } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { makeBrokerTls, tlsListenerLines } from './broker-tls.js';
import { type Child, freePort, spawnChild, waitUntil } from './processes.js';

const REPO_CONFIG = resolve('deploy/mosquitto/mosquitto.conf');

export interface PrivateTlsBroker {
  /** `mqtts://127.0.0.1:<port>` */
  readonly url: string;
  /** The CA its certificate chains to: the control plane's MQTT_CA_FILE and the agents' mqttCaFile. */
  readonly caFile: string;
  readonly child: Child;
}

/**
 * A Mosquitto of the demo's own with only the TLS listener of deploy/mosquitto/mosquitto-tls.conf (on
 * a free loopback port) and the limits of deploy/mosquitto/mosquitto.conf, its CA and certificate made
 * by scripts/make-tls.sh under `dir`. Anonymous and without persistence: it lives as long as the demo.
 */
export async function startPrivateTlsBroker(dir: string): Promise<PrivateTlsBroker> {
  await mkdir(dir, { recursive: true });
  const tls = await makeBrokerTls(join(dir, 'tls'));
  const port = await freePort();
  const limits = (await readFile(REPO_CONFIG, 'utf8'))
    .split('\n')
    .filter((line) => !/^\s*(listener|allow_anonymous|persistence|persistence_location|log_dest|log_type)\b/.test(line));
  // `user root`: when started as root, Mosquitto would otherwise switch to its own user, who cannot read
  // the 0600 key made by this user. Ignored when not started as root.
  const lines = [...limits, ...(await tlsListenerLines(port, tls)), 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', 'user root'];
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, `${lines.join('\n')}\n`);
  const child = await spawnChild('mosquitto', 'mosquitto', ['-c', conf], {});
  await waitUntil(() => listening(port, child), 10_000, `mosquitto listening on ${port}`).catch((error: unknown) => {
    throw new Error(`the demo's TLS broker did not start: ${child.tail.join('\n')}`, { cause: error });
  });
  return { url: `mqtts://127.0.0.1:${port}`, caFile: tls.caFile, child };
}

function listening(port: number, child: Child): Promise<boolean> {
  if (child.process.exitCode !== null) return Promise.reject(new Error('mosquitto exited'));
  return new Promise((resolveOpen) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolveOpen(true);
    });
    socket.on('error', () => resolveOpen(false));
  });
}
