import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/** Run from the repository root (as the demo, the tests and the benches are). */
const MAKE_TLS = resolve('scripts/make-tls.sh');
const TLS_CONFIG = resolve('deploy/mosquitto/mosquitto-tls.conf');

/** What scripts/make-tls.sh writes into its directory. */
export interface BrokerTlsFiles {
  readonly dir: string;
  /** The CA the control plane (MQTT_CA_FILE) and the agents (mqttCaFile) pin. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A local CA (reused when `dir` has one) and a broker certificate for localhost, 127.0.0.1 and `names`. */
export async function makeBrokerTls(dir: string, names: readonly string[] = []): Promise<BrokerTlsFiles> {
  await promisify(execFile)('bash', [MAKE_TLS, dir, ...names]);
  return { dir, caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
}

/**
 * The TLS listener of deploy/mosquitto/mosquitto-tls.conf (its `listener 8883` line and the settings up
 * to the next blank line) on `port` of loopback with `files`: test and demo brokers run the TLS settings
 * production uses (minimum version, no client certificates), not a copy of them.
 */
export async function tlsListenerLines(port: number, files: BrokerTlsFiles): Promise<string[]> {
  const lines = (await readFile(TLS_CONFIG, 'utf8')).split('\n');
  const start = lines.findIndex((line) => /^listener\s+8883\s*$/.test(line));
  if (start < 0) throw new Error(`${TLS_CONFIG} has no "listener 8883" line`);
  const end = lines.findIndex((line, i) => i > start && line.trim() === '');
  return lines
    .slice(start, end < 0 ? undefined : end)
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .map((line) => {
      const [key] = line.trim().split(/\s+/);
      if (key === 'listener') return `listener ${port} 127.0.0.1`;
      if (key === 'certfile') return `certfile ${files.certFile}`;
      if (key === 'keyfile') return `keyfile ${files.keyFile}`;
      return line;
    });
}
