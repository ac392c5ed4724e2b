import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const AGENT_MAIN = resolve('dist/agent/main.js');

export interface AgentOptions {
  readonly controlPlaneUrl: string;
  readonly enrollmentToken: string;
  readonly name?: string;
  readonly soak?: { inferences: number; seconds: number };
  readonly heartbeatSeconds?: number;
  readonly stallSeconds?: number;
  /** The CA the agent pins for a TLS broker (its config's `mqttCaFile`). */
  readonly mqttCaFile?: string;
  /** Overrides the broker URL enrolment hands out (its config's `brokerUrl`). */
  readonly brokerUrl?: string;
  /** Extra environment for the agent process (e.g. the systemd unit's memory settings). */
  readonly env?: Readonly<Record<string, string>>;
  /** Flags for node itself, before the script (V8 flags NODE_OPTIONS refuses). */
  readonly nodeArgs?: readonly string[];
  /** More agent.json keys (e.g. the local API's socket and token file), over the defaults above. */
  readonly config?: Readonly<Record<string, unknown>>;
}

/**
 * The real agent as a child process (`node dist/agent/main.js run`), with its own state
 * directory and config file. `kill()` is SIGKILL; `restart()` starts it again on the same state.
 */
export class AgentProcess {
  child?: ChildProcess;
  apiPort = 0;
  nodeId = '';
  logs: string[] = [];

  private constructor(
    readonly stateDir: string,
    private readonly configPath: string,
    private readonly env: Readonly<Record<string, string>>,
    private readonly nodeArgs: readonly string[],
  ) {}

  static async start(options: AgentOptions): Promise<AgentProcess> {
    const agent = await AgentProcess.create(options);
    await agent.restart();
    return agent;
  }

  /** Writes the state directory and config without starting the process (`restart()` starts it). */
  static async create(options: AgentOptions): Promise<AgentProcess> {
    const stateDir = await mkdtemp(join(tmpdir(), 'ef-agent-'));
    const configPath = join(stateDir, 'agent.json');
    await writeFile(
      configPath,
      JSON.stringify({
        controlPlaneUrl: options.controlPlaneUrl,
        stateDir: join(stateDir, 'state'),
        enrollmentToken: options.enrollmentToken,
        name: options.name,
        apiPort: 0,
        heartbeatSeconds: options.heartbeatSeconds ?? 0.5,
        stallSeconds: options.stallSeconds ?? 1,
        soak: options.soak ?? { inferences: 3, seconds: 1 },
        mqttCaFile: options.mqttCaFile,
        brokerUrl: options.brokerUrl,
        ...options.config,
      }),
    );
    return new AgentProcess(stateDir, configPath, options.env ?? {}, options.nodeArgs ?? []);
  }

  /** Changes keys of the agent's config file (takes effect at the next `restart()`). */
  async updateConfig(patch: Record<string, unknown>): Promise<void> {
    const current = JSON.parse(await readFile(this.configPath, 'utf8')) as Record<string, unknown>;
    await writeFile(this.configPath, JSON.stringify({ ...current, ...patch }));
  }

  /**
   * Starts the process and resolves when its local API listens; `failpoints` make it kill itself there.
   * `under` runs node under another program (e.g. valgrind: bench/callgrind.ts), which needs a longer `startTimeoutMs`.
   */
  async restart(failpoints: readonly string[] = [], { under = [], startTimeoutMs = 30_000 }: { under?: readonly string[]; startTimeoutMs?: number } = {}): Promise<void> {
    const env = { ...process.env, ...this.env, EDGEFLEET_FAILPOINTS: failpoints.join(',') };
    const argv = [process.execPath, ...this.nodeArgs, AGENT_MAIN, 'run', '--config', this.configPath];
    const [command = process.execPath, ...args] = [...under, ...argv];
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    this.child = child;
    await new Promise<void>((resolveStarted, reject) => {
      let buffer = '';
      const timer = setTimeout(() => reject(new Error(`agent did not start:\n${this.logs.slice(-20).join('\n')}`)), startTimeoutMs);
      child.stderr?.on('data', (data: Buffer) => {
        buffer += data.toString();
        let newline;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          this.logs.push(line);
          try {
            const entry = JSON.parse(line) as { msg?: string; apiPort?: number; nodeId?: string };
            if (entry.msg === 'agent started') {
              this.apiPort = entry.apiPort ?? 0;
              this.nodeId = entry.nodeId ?? '';
              clearTimeout(timer);
              resolveStarted();
            }
          } catch {
            // not JSON: keep it in the log
          }
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`agent exited with ${code}:\n${this.logs.slice(-20).join('\n')}`));
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  async status(): Promise<{ phase: string; model: { sha256: string; version: string } | null }> {
    return (await (await fetch(`${this.url}/v1/status`)).json()) as { phase: string; model: { sha256: string; version: string } | null };
  }

  async infer(input: number[]): Promise<Response> {
    return fetch(`${this.url}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
  }

  /** Resolves when the process has exited (e.g. killed itself at a failpoint). */
  async exited(timeoutMs = 30_000): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('agent did not exit')), timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  /** kill -9 */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }

  async remove(): Promise<void> {
    await this.kill();
    await rm(this.stateDir, { recursive: true, force: true });
  }
}

export async function waitFor<T>(probe: () => Promise<T>, accept: (v: T) => boolean, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined as T);
    if (value !== undefined && accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
