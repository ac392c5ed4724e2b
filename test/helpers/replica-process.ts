import { type ChildProcess, spawn } from 'node:child_process';
import { get } from 'node:http';
import { resolve } from 'node:path';
import type { TestApp } from './test-app.js';

const MAIN = resolve('dist/apps/control-plane/src/main.js');

/**
 * Another control-plane replica of a test app, as a real process (`dist/…/main.js`): the same database,
 * keys, artifact directory, Redis prefix and shared-subscription group, and a client id of its own that
 * it keeps across restarts, so the broker hands it back its persistent session. Tests kill it (SIGKILL)
 * or stop it (SIGTERM) and start it again.
 */
export class ReplicaProcess {
  private child?: ChildProcess;
  /** `http://127.0.0.1:<port>` of the current life (a new port each start). */
  url = '';
  /** Warnings and errors it logged, for the message of a failing test. */
  readonly problems: string[] = [];
  starts = 0;

  constructor(
    private readonly t: TestApp,
    private readonly brokerUrl: string,
    readonly clientId: string,
    private readonly env: Record<string, string> = {},
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Boots it and resolves once it listens (bounded: a replica that does not come up fails the test). */
  start(timeoutMs = 90_000): Promise<void> {
    const { config } = this.t;
    const child = spawn(process.execPath, [MAIN], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DATABASE_URL: config.database.url,
        DATABASE_POOL_SIZE: '4',
        MIGRATIONS_RUN: 'false',
        KEYS_DIR: config.trust.keysDir,
        ARTIFACT_DIR: config.artifacts.dir,
        QUEUE_PREFIX: config.rollouts.queuePrefix,
        MQTT_URL: this.brokerUrl,
        MQTT_SHARED_GROUP: config.mqtt.sharedGroup,
        MQTT_CLIENT_ID: this.clientId,
        MQTT_SESSION_EXPIRY_SECONDS: '300',
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        ...this.env,
      },
    });
    this.child = child;
    this.starts++;
    child.stderr?.on('data', (data: Buffer) => this.problems.push(data.toString().slice(0, 500)));
    return new Promise<void>((resolveStarted, reject) => {
      const timer = setTimeout(() => reject(new Error(`replica ${this.clientId} did not start; its problems:\n${this.problems.slice(-10).join('\n')}`)), timeoutMs);
      let pending = '';
      child.stdout?.on('data', (data: Buffer) => {
        pending += data.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (/"level":(40|50|60)/.test(line)) this.problems.push(line.slice(0, 500));
          const listening = /listening on (http:\/\/[^ ]+) /.exec(line);
          if (listening?.[1]) {
            this.url = listening[1];
            clearTimeout(timer);
            resolveStarted();
          }
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`replica ${this.clientId} exited at boot (${code ?? signal}); its problems:\n${this.problems.slice(-10).join('\n')}`));
      });
    });
  }

  /** Sends `signal` and resolves once the process is gone (SIGTERM: its graceful stop, bounded by the caller). */
  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child;
    if (!child || !this.running) return { code: child?.exitCode ?? null, signal: child?.signalCode ?? null };
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, sig) => r({ code, signal: sig })));
    child.kill(signal);
    return exited;
  }

  /** The sum of the samples of one Prometheus counter on this replica whose line matches `pattern`. */
  async metric(pattern: RegExp): Promise<number> {
    const text = await scrape(`${this.url}/metrics`);
    return text
      .split('\n')
      .filter((line) => pattern.test(line))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  }
}

/** One GET on a fresh connection: a kept-alive socket the replica has just closed (or died with) fails a reused fetch. */
function scrape(url: string): Promise<string> {
  return new Promise((resolveBody, reject) => {
    get(url, { agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolveBody(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    })
      .on('timeout', function (this: { destroy(error: Error): void }) {
        this.destroy(new Error(`GET ${url}: no answer in 10 s`));
      })
      .on('error', reject);
  });
}
