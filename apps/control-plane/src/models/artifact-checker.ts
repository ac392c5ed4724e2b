import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnprocessableError, ValidationError } from '#common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { type CheckedSelfTest, type DeclaredSpec, refuseInconsistentFields, type UploadedArtifact } from './artifact-check.js';
import { type CheckReply, type CheckRequest, isCheckReply } from './artifact-check.messages.js';

const CHILD_FILE = 'artifact-check.child.js';
/** Enough of the child's stderr to tell a V8 out-of-memory abort from another crash. */
const STDERR_TAIL_BYTES = 8192;

/**
 * The built child entry: next to this file when running from dist/; from the TypeScript sources (the
 * test runner) the same relative path under dist/ (`npm run build` first).
 */
export function checkChildPath(here = fileURLToPath(import.meta.url)): string {
  if (here.endsWith('.js')) return join(dirname(here), CHILD_FILE);
  const root = resolve(dirname(here), '../../../..');
  return join(root, 'dist', relative(root, dirname(here)), CHILD_FILE);
}

interface ChildEnd {
  readonly reply?: CheckReply;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stderr: string;
}

/**
 * The upload path's entry to `checkArtifact`. Each check runs in its own child process (engines run
 * untrusted bytes synchronously and natively: in this process they would stall the API, health and
 * MQTT keepalive, and a native crash would take the control plane down). The child has a capped heap
 * and is SIGKILLed at the time bound. Checks run one at a time, so concurrent uploads cannot multiply
 * the memory they take: the next one starts only once the previous child has exited.
 */
@Injectable()
export class ArtifactChecker implements OnApplicationShutdown {
  /** 'started' (pid) when a check's child is forked, 'exited' (pid) once it is gone. */
  readonly events = new EventEmitter();
  private queue: Promise<unknown> = Promise.resolve();
  /** The check's child while one runs: a shutdown must not leave it running unowned. */
  private running: ChildProcess | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onApplicationShutdown(): void {
    if (this.running) killQuietly(this.running);
  }

  check(spec: DeclaredSpec, artifact: UploadedArtifact): Promise<CheckedSelfTest | undefined> {
    refuseInconsistentFields(artifact);
    const ended = this.queue.then(() => this.runChild({ spec, artifact, timeoutMs: this.config.artifacts.checkTimeoutMs }));
    this.queue = ended.catch(() => undefined);
    return ended.then((end) => this.outcome(end));
  }

  /** Resolves when the child has exited (never rejects on the child's account), with what it said. */
  private runChild(request: CheckRequest): Promise<ChildEnd> {
    const path = checkChildPath();
    if (!existsSync(path)) return Promise.reject(new Error(`the model check's entry ${path} is missing: build the control plane first`));
    const child = fork(path, [], {
      execArgv: [`--max-old-space-size=${this.config.artifacts.checkMaxHeapMb}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.running = child;
    return new Promise<ChildEnd>((done) => {
      let reply: CheckReply | undefined;
      let timedOut = false;
      let stderr = '';
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, request.timeoutMs);
      child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES)));
      child.on('message', (message) => {
        if (isCheckReply(message)) reply ??= message;
      });
      // A failed send (the child died first) shows as its exit; 'error' alone must not throw here.
      child.on('error', () => killQuietly(child));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.running = undefined;
        this.events.emit('exited', child.pid);
        done({ reply, code, signal, timedOut, stderr });
      });
      this.events.emit('started', child.pid);
      child.send(request, (error) => error && killQuietly(child));
    });
  }

  private outcome(end: ChildEnd): CheckedSelfTest | undefined {
    const seconds = this.config.artifacts.checkTimeoutMs / 1000;
    if (end.timedOut && !end.reply) throw new UnprocessableError(`the model check exceeded ${seconds} s and was stopped`);
    const reply = end.reply;
    if (!reply) {
      if (/heap out of memory|Reached heap limit|allocation failed/i.test(end.stderr)) {
        throw new UnprocessableError(`the model check ran out of memory (heap limit ${this.config.artifacts.checkMaxHeapMb} MB)`);
      }
      throw new UnprocessableError(`the model check crashed (${end.signal ? `signal ${end.signal}` : `exit code ${end.code}`})`);
    }
    switch (reply.outcome) {
      case 'passed':
        return reply.selfTest ?? undefined;
      case 'unprocessable':
        throw new UnprocessableError(reply.message);
      case 'invalid':
        throw new ValidationError(reply.message, reply.violations);
      case 'failed':
        throw Object.assign(new Error(`the model check failed: ${reply.name}`, { cause: reply }), { name: 'ArtifactCheckError' });
    }
  }
}

function killQuietly(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
