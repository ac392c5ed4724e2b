import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';

/** Where Debian's util-linux (and most distributions') puts chrt. */
const CHRT_PATHS = ['/usr/bin/chrt', '/bin/chrt'];

/**
 * The shadow candidate's thread gives the CPU to serving at once: its runs are best-effort work beside
 * serving, and their figures are ratios against the reference run on the same thread, so they do not
 * need the CPU at any given moment. bench/shadow-cost.ts, p99 with shadow on / off at `sampleRate` 0.05
 * (docs/rollouts.md): 1.32–1.54× at nice 0, where the kernel shared the cores fairly and each sample's two
 * engine runs held up the requests that arrived meanwhile; 1.12–1.21× at nice 19, where a woken request
 * thread still waited out part of the candidate's time slice; 0.96–1.17× (median 1.07×) as SCHED_IDLE, which the kernel
 * preempts the moment any other thread wants its core. On a busy device the candidate gets little CPU: its
 * samples come slower (more are `skipped`), runs are timed by their wall time less the thread's wait for
 * a core (`runQueueWaitMs`), and a sample that timed out while its thread mostly waited for a core is
 * not the candidate's error (ShadowEvaluator).
 *
 * Node has no binding for sched_setscheduler, so SCHED_IDLE is set with util-linux's `chrt` (a Debian
 * essential package; an unprivileged thread may make itself SCHED_IDLE, sched(7)). Nice 19 comes first,
 * and stays where `chrt` is missing. Elsewhere than Linux the thread keeps the agent's priority.
 *
 * Returns what could not be done, for the agent to log; undefined when the thread is SCHED_IDLE.
 */
export function lowerThisThreadPriority(tid: number | undefined, chrtPaths: readonly string[] = CHRT_PATHS): string | undefined {
  if (tid === undefined) return 'keeps the agent\'s priority: no thread id in /proc/thread-self (not Linux?)';
  try {
    // Linux keeps a niceness and a policy per thread: the thread id changes this thread only, not the
    // agent's serving thread (threads it starts later, such as ONNX Runtime's, inherit both).
    setPriority(tid, constants.priority.PRIORITY_LOW);
  } catch (error) {
    return `keeps the agent's priority: ${error instanceof Error ? error.message : String(error)}`;
  }
  const chrt = chrtPaths.find((path) => existsSync(path));
  if (!chrt) return `runs at nice 19, not SCHED_IDLE: no chrt (util-linux) at ${chrtPaths.join(' or ')}`;
  // A fixed path and no environment: nothing the agent's environment says decides what runs here.
  const result = spawnSync(chrt, ['--idle', '--pid', '0', String(tid)], { env: {}, stdio: ['ignore', 'ignore', 'pipe'], timeout: 5_000, encoding: 'utf8' });
  if (result.error || result.status !== 0) return `runs at nice 19, not SCHED_IDLE: ${chrt} ${result.error?.message ?? `exited ${result.status ?? result.signal}: ${result.stderr.trim().slice(0, 200)}`}`;
  return undefined;
}

/** The calling thread's id (Linux: the last part of /proc/thread-self's target), or undefined elsewhere. */
export function currentThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** This process's thread `tid`'s /proc/self/task/<tid>/schedstat: ns on a CPU, ns waiting for one, timeslices. */
function schedstat(tid: number | 'thread-self'): number[] | undefined {
  try {
    const path = tid === 'thread-self' ? '/proc/thread-self/schedstat' : `/proc/self/task/${tid}/schedstat`;
    const fields = readFileSync(path, 'utf8').split(' ').map(Number);
    return fields.length >= 2 && fields.every(Number.isFinite) ? fields : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How long a thread of this process (the calling one by default) has waited, runnable, for a CPU so far,
 * in ms (exact: the kernel adds each wait when the thread gets a CPU back); undefined where there is no
 * schedstat, or the thread has ended. A run's wall time less the wait accrued during it is its time on
 * the CPU: as SCHED_IDLE the candidate's runs are preempted whenever anything else wants the core, and
 * wall time alone read an equal model as 2.1× slower on a busy machine. Only that thread's wait: with
 * `onnx.threads` > 1 the engine's other threads may wait too, and the calling thread then sleeps (not
 * counted) until they are done.
 */
export function runQueueWaitMs(tid: number | 'thread-self' = 'thread-self'): number | undefined {
  const fields = schedstat(tid);
  return fields ? (fields[1] as number) / 1e6 : undefined;
}

/** The clocks `timeLessWait` reads (tests pass their own). */
export interface WaitClocks {
  readonly now: () => number;
  readonly waited: () => number | undefined;
}

const THREAD_CLOCKS: WaitClocks = { now: () => performance.now(), waited: () => runQueueWaitMs() };

/**
 * Runs `run` and gives its time in ms less what the calling thread waited, runnable, for a core
 * meanwhile (its wall time where the wait cannot be read). The wait is read inside the timed window:
 * a preemption outside it must not be taken off the run.
 */
export async function timeLessWait<T>(run: () => Promise<T>, clocks: WaitClocks = THREAD_CLOCKS): Promise<{ value: T; ms: number }> {
  const start = clocks.now();
  const waitedBefore = clocks.waited();
  const value = await run();
  const waitedAfter = waitedBefore === undefined ? undefined : clocks.waited();
  const wall = clocks.now() - start;
  return { value, ms: waitedBefore === undefined || waitedAfter === undefined ? wall : Math.max(wall - (waitedAfter - waitedBefore), 0) };
}
