import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type BrokerTlsFiles, makeBrokerTls, tlsListenerLines } from '../../pipeline/src/broker-tls.js';
import { freePort, waitForPort } from './ports.js';

const DYNSEC_PLUGIN = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';
/** Tests and benches run from the repository root. */
const REPO_CONFIG = resolve('deploy/mosquitto/mosquitto.conf');

export interface TestBroker {
  /** `mqtt://127.0.0.1:<port>`, or `mqtts://…` for a TLS broker. */
  readonly url: string;
  readonly port: number;
  /** A TLS broker's files (made by scripts/make-tls.sh): `tls.caFile` is the CA clients pin. */
  readonly tls?: BrokerTlsFiles;
  /** Stops the broker process (an outage); `resume()` starts it again on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Mosquitto of its own for one suite, configured from the repo's deploy/mosquitto/mosquitto.conf
 * (per-client queue limits in messages and bytes, packet size) on a free port: heavy traffic in one
 * suite cannot overflow another's queues on the shared broker. With `dynsec`, the dynamic security plugin is loaded and the given user
 * is its admin (what `mosquitto_ctrl dynsec init` creates in production). With `tls`, its one listener
 * is the TLS listener of deploy/mosquitto/mosquitto-tls.conf, with a CA and certificate made for it by
 * scripts/make-tls.sh in its temp directory.
 */
export async function startTestBroker(options: { dynsec?: { username: string; password: string }; tls?: boolean } = {}): Promise<TestBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'ef-broker-'));
  const port = await freePort();
  const tls = options.tls ? await makeBrokerTls(join(dir, 'tls')) : undefined;
  const listener = tls ? await tlsListenerLines(port, tls) : [`listener ${port} 127.0.0.1`];
  const base = (await readFile(REPO_CONFIG, 'utf8'))
    .split('\n')
    .filter((line) => !/^\s*(listener|allow_anonymous|persistence|persistence_location|log_dest|log_type)\b/.test(line));
  // Tests must run under the per-client queue bounds production has (an unbounded queue hides floods).
  for (const limit of ['max_queued_messages', 'max_queued_bytes']) {
    if (!base.some((line) => new RegExp(`^\\s*${limit}\\s+[1-9]\\d*\\s*$`).test(line))) throw new Error(`${REPO_CONFIG} must set ${limit}`);
  }
  // Persistence on, as in production: sessions and queued messages survive pause()/resume().
  const lines = [...base, ...listener, 'persistence true', `persistence_location ${dir}/`, 'log_dest none', 'user root'];
  if (options.dynsec) {
    const file = join(dir, 'dynamic-security.json');
    await promisify(execFile)('mosquitto_ctrl', ['dynsec', 'init', file, options.dynsec.username, options.dynsec.password]);
    lines.push('allow_anonymous false', `plugin ${DYNSEC_PLUGIN}`, `plugin_opt_config_file ${file}`);
  } else {
    lines.push('allow_anonymous true');
  }
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, `${lines.join('\n')}\n`);
  let stderr = '';
  const launch = async () => {
    const process = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    process.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitForPort(port, process, () => stderr, { name: 'mosquitto', tries: 100 });
    return process;
  };
  let child = await launch();
  const halt = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  };
  return {
    url: `${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    port,
    tls,
    pause: halt,
    resume: async () => {
      child = await launch();
    },
    stop: async () => {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
